package webhdfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// pathPrefix starts every WebHDFS request path.
const pathPrefix = "/webhdfs/v1"

// Handler serves loc over WebHDFS as op=GETFILEBLOCKLOCATIONS (with offset
// and length; user.name is accepted and ignored). Answers follow the
// BlockLocations schema: "hosts" are the Locator's hosts; since a Locator
// knows no transfer ports, "names" repeat the hosts and "topologyPaths" are
// "/default-rack/<host>". Errors are RemoteException objects: 404
// FileNotFoundException for datalocation.ErrNotFound, 400
// IllegalArgumentException for bad parameters or ranges, 400
// UnsupportedOperationException for other ops, 405 for other methods, 500
// RuntimeException for anything else.
func Handler(loc datalocation.Locator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(loc, w, r)
	})
}

func serve(loc datalocation.Locator, w http.ResponseWriter, r *http.Request) {
	file, ok := strings.CutPrefix(r.URL.Path, pathPrefix)
	if !ok || (file != "" && !strings.HasPrefix(file, "/")) {
		writeException(w, http.StatusNotFound, "FileNotFoundException", "java.io.FileNotFoundException",
			fmt.Sprintf("no WebHDFS path: %q does not start with %s/", r.URL.Path, pathPrefix))
		return
	}
	if file == "" {
		file = "/"
	}
	if r.Method != http.MethodGet {
		writeException(w, http.StatusMethodNotAllowed, "UnsupportedOperationException",
			"java.lang.UnsupportedOperationException", fmt.Sprintf("method %s not allowed (accepted: GET)", r.Method))
		return
	}
	q := r.URL.Query()
	if op := strings.ToUpper(q.Get("op")); op != OpGetFileBlockLocations {
		writeException(w, http.StatusBadRequest, "UnsupportedOperationException", "java.lang.UnsupportedOperationException",
			fmt.Sprintf("op %q is not supported (accepted: %s)", q.Get("op"), OpGetFileBlockLocations))
		return
	}
	offset, length, err := rangeParams(q)
	if err != nil {
		writeException(w, http.StatusBadRequest, "IllegalArgumentException", "java.lang.IllegalArgumentException", err.Error())
		return
	}
	blocks, err := loc.BlockInfoByteRange(r.Context(), file, offset, length)
	if err != nil {
		writeLocatorError(w, file, err)
		return
	}
	writeJSON(w, http.StatusOK, encodeBlockLocations(blocks))
}

// rangeParams reads offset (default 0) and length (default: to the end, -1).
func rangeParams(q map[string][]string) (offset, length int64, err error) {
	offset, err = intParam(q, "offset", 0)
	if err != nil {
		return 0, 0, err
	}
	length, err = intParam(q, "length", -1)
	return offset, length, err
}

// intParam parses a parameter that must be an integer >= 0 when present.
func intParam(q map[string][]string, name string, def int64) (int64, error) {
	vals := q[name]
	if len(vals) == 0 || vals[0] == "" || vals[0] == "null" {
		return def, nil
	}
	v, err := strconv.ParseInt(vals[0], 10, 64)
	if err != nil || v < 0 {
		return 0, paramError{name: name, value: vals[0]}
	}
	return v, nil
}

// paramError words a bad parameter as HDFS does.
type paramError struct{ name, value string }

func (e paramError) Error() string {
	return fmt.Sprintf("Invalid value for webhdfs parameter %q: %q is not an integer >= 0", e.name, e.value)
}

func writeLocatorError(w http.ResponseWriter, file string, err error) {
	switch {
	case errors.Is(err, datalocation.ErrNotFound):
		writeException(w, http.StatusNotFound, "FileNotFoundException", "java.io.FileNotFoundException",
			"File does not exist: "+file+" ("+err.Error()+")")
	case errors.Is(err, datalocation.ErrBadRange):
		writeException(w, http.StatusBadRequest, "IllegalArgumentException", "java.lang.IllegalArgumentException", err.Error())
	default:
		writeException(w, http.StatusInternalServerError, "RuntimeException", "java.lang.RuntimeException", err.Error())
	}
}

func encodeBlockLocations(blocks []datalocation.Block) blockLocations {
	v := blockLocations{BlockLocations: &blockLocationList{BlockLocation: []blockLocation{}}}
	for _, b := range blocks {
		bl := blockLocation{
			CachedHosts: []string{}, Hosts: []string{}, Names: []string{},
			StorageTypes: []string{}, TopologyPaths: []string{},
			Offset: b.Offset, Length: b.Length,
		}
		for _, h := range b.Hosts {
			bl.Hosts = append(bl.Hosts, h)
			bl.Names = append(bl.Names, h)
			bl.StorageTypes = append(bl.StorageTypes, "DISK")
			bl.TopologyPaths = append(bl.TopologyPaths, "/default-rack/"+h)
		}
		v.BlockLocations.BlockLocation = append(v.BlockLocations.BlockLocation, bl)
	}
	return v
}

func writeException(w http.ResponseWriter, status int, exception, javaClass, msg string) {
	writeJSON(w, status, remoteException{RemoteException: &remoteExceptionBody{exception, javaClass, msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"RemoteException":{"exception":"RuntimeException","javaClassName":"java.lang.RuntimeException","message":"encode answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
