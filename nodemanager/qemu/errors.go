package qemu

import (
	"errors"
	"fmt"
)

// OptionError says which field of Options (or vmm.Spec) is wrong and
// what would be accepted.
type OptionError struct {
	Field  string // e.g. Disks[1].Format
	Value  any
	Reason string // what is accepted
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("qemu option %s = %#v: %s", e.Field, e.Value, e.Reason)
}

func badOption(field string, v any, format string, a ...any) *OptionError {
	return &OptionError{Field: field, Value: v, Reason: fmt.Sprintf(format, a...)}
}

// ErrBadState is returned (wrapped) when an operation does not fit the
// guest's current state, e.g. Resume on a guest not started with
// Incoming "defer".
var ErrBadState = errors.New("guest is in the wrong state")

// ErrNoMonitor is returned (wrapped) when a guest's QMP monitor is not
// connected (a recovered guest whose socket did not answer yet).
var ErrNoMonitor = errors.New("qmp monitor not connected")

// CallError is returned by Call for an argument it does not know.
type CallError struct {
	Arg      string
	Accepted []string
}

func (e *CallError) Error() string {
	return fmt.Sprintf("unknown vmmSpecificCall %q: accepted are %v", e.Arg, e.Accepted)
}
