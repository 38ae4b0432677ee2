package clustermanager

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// decode reads exactly one JSON value into v, refusing unknown fields,
// trailing data and oversized bodies, with errors that name the field.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(err)
	}
	if dec.More() {
		return api.Errorf(api.CodeMalformed, "", "the body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return api.Errorf(api.CodeMalformed, "", "trailing data after the JSON body")
	}
	return nil
}

func decodeErr(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr):
		return api.Errorf(api.CodeInvalid, typeErr.Field, "field %q must be %s, not JSON %s",
			typeErr.Field, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return api.Errorf(api.CodeMalformed, "", "malformed JSON at byte %d: %v", syntaxErr.Offset, err)
	case errors.As(err, &tooBig):
		return api.Errorf(api.CodeMalformed, "", "the body is larger than %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return api.Errorf(api.CodeMalformed, "", "the body is empty; a JSON object is expected")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return api.Errorf(api.CodeUnknownField, f, "unknown field %q", f)
	}
	return api.Errorf(api.CodeMalformed, "", "malformed JSON: %v", err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAnswer(w http.ResponseWriter, a store.Answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Status)
	_, _ = w.Write(a.Body)
	_, _ = w.Write([]byte("\n"))
}

// writeErr sends an *api.Error as is and hides everything else behind an
// internal error, logged with the request.
func (s *Server) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var e *api.Error
	if !errors.As(err, &e) && r.Context().Err() != nil {
		s.log.Debug("request ended by its client", "method", r.Method, "path", r.URL.Path, "err", err)
		e = api.Errorf(api.CodeUnavailable, "", "request cancelled")
	} else if !errors.As(err, &e) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = api.Errorf(api.CodeInternal, "", "internal error: %v", firstLine(err))
	}
	writeJSON(w, e.HTTPStatus(), e)
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// idemKey is the caller's idempotency key, bounded.
func idemKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if len(k) > 128 {
		return "", api.Errorf(api.CodeInvalid, "Idempotency-Key", "the Idempotency-Key header is longer than 128 bytes")
	}
	return k, nil
}
