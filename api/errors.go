package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, machine-readable error code. Clients branch on codes,
// never on messages.
type Code string

const (
	CodeInvalid           Code = "invalid_argument"   // a field is malformed or out of range
	CodeMalformed         Code = "malformed_request"  // the body is not the JSON we accept
	CodeUnknownField      Code = "unknown_field"      // the body has a field we do not know
	CodeNotFound          Code = "not_found"          // the named thing does not exist
	CodeDuplicate         Code = "duplicate"          // a name that must be unique is taken
	CodeIllegalTransition Code = "illegal_transition" // the state machine refuses
	CodeBadState          Code = "bad_state"          // an unknown state name
	CodeQuotaExceeded     Code = "quota_exceeded"     // the user's quota would be exceeded
	CodeLimitExceeded     Code = "limit_exceeded"     // maxCores/maxMemory of the cluster
	CodeConflict          Code = "conflict"           // version mismatch, claim held, in use
	CodeUnauthenticated   Code = "unauthenticated"    // no or bad token
	CodeForbidden         Code = "forbidden"          // the token may not do this
	CodeInternal          Code = "internal"           // our fault
	CodeUnavailable       Code = "unavailable"        // try again later
)

var codeStatus = map[Code]int{
	CodeInvalid:           http.StatusBadRequest,
	CodeMalformed:         http.StatusBadRequest,
	CodeUnknownField:      http.StatusBadRequest,
	CodeBadState:          http.StatusBadRequest,
	CodeNotFound:          http.StatusNotFound,
	CodeDuplicate:         http.StatusConflict,
	CodeIllegalTransition: http.StatusConflict,
	CodeConflict:          http.StatusConflict,
	CodeQuotaExceeded:     http.StatusForbidden,
	CodeLimitExceeded:     http.StatusBadRequest,
	CodeUnauthenticated:   http.StatusUnauthorized,
	CodeForbidden:         http.StatusForbidden,
	CodeInternal:          http.StatusInternalServerError,
	CodeUnavailable:       http.StatusServiceUnavailable,
}

// Error is the JSON body of every failed API call.
type Error struct {
	Code    Code   `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	Status  int    `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// HTTPStatus is the status code the error is sent with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if s, ok := codeStatus[e.Code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Errorf builds an *Error for field with a formatted message.
func Errorf(code Code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// IsCode reports whether err is (or wraps) an *Error with code c.
func IsCode(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}
