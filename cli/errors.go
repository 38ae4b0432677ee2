package cli

import "fmt"

// Exit statuses of Main.
const (
	exitOK    = 0
	exitError = 1 // the call failed: an API error, the CM unreachable, bad config
	exitUsage = 2 // the command line is wrong
)

// usageError is a mistake on the command line; Main exits with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}
