package configs

import (
	"errors"
	"fmt"
)

// ErrNotSet is returned (wrapped) by the typed getters when a key has no value
// in any layer.
var ErrNotSet = errors.New("config key not set")

// ParseError is a syntax error in one config file.
type ParseError struct {
	File string // path, or "(embedded) TashiDefaults.cfg"
	Line int    // 1-based
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ValueError is a value that does not parse as the type asked for.
type ValueError struct {
	Section, Key string // the key as spelled in the config
	Value        string
	Origin       string // where the value was set: "file:line", "env NAME" or "Set"
	Accepted     string // what would have been accepted
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("bad value for %s.%s: %q (from %s); accepted: %s",
		e.Section, e.Key, e.Value, e.Origin, e.Accepted)
}
