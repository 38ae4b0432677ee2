package qmp

import (
	"errors"
	"fmt"
)

// ErrClosed is returned (wrapped) by calls on a monitor whose connection
// is gone: closed by Close, by QEMU exiting, or by a broken stream.
var ErrClosed = errors.New("qmp monitor closed")

// Error is an error reply from QEMU ({"error": {"class", "desc"}}).
type Error struct {
	Command string // the command that failed
	Class   string // e.g. GenericError, CommandNotFound, DeviceNotFound
	Desc    string // QEMU's human-readable description
}

func (e *Error) Error() string {
	return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc)
}

// IsClass reports whether err is (or wraps) a QMP error of the given class.
func IsClass(err error, class string) bool {
	var qe *Error
	return errors.As(err, &qe) && qe.Class == class
}
