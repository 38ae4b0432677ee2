package webhdfs

import (
	"fmt"
	"net/http"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// RemoteError is an error answer from a WebHDFS server: its HTTP status and,
// when the body had the {"RemoteException":{...}} form, the Java exception.
type RemoteError struct {
	Status        int    // HTTP status code
	Exception     string // e.g. "FileNotFoundException"; "" if the body had none
	JavaClassName string // e.g. "java.io.FileNotFoundException"
	Message       string // the exception's message, or the start of the body
}

func (e *RemoteError) Error() string {
	if e.Exception == "" {
		return fmt.Sprintf("HTTP %d %s: %q", e.Status, http.StatusText(e.Status), e.Message)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Exception, e.Message, e.Status)
}

// Unwrap gives datalocation.ErrNotFound for FileNotFoundException or 404.
func (e *RemoteError) Unwrap() error {
	if e.Exception == "FileNotFoundException" || e.Status == http.StatusNotFound {
		return datalocation.ErrNotFound
	}
	return nil
}
