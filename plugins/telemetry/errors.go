package telemetry

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownType is returned (wrapped) for a metric type not in Types.
	ErrUnknownType = errors.New("unknown metric type")
	// ErrUnknownHost is returned (wrapped) for a host in neither the
	// topology nor the host stats.
	ErrUnknownHost = errors.New("unknown host")
	// ErrNoStats is returned (wrapped) when load is asked of a host whose
	// stats are missing or lack a CPU count.
	ErrNoStats = errors.New("no host stats")
	// ErrUnknownSensor is returned (wrapped) by Registry.New for a name
	// nobody registered.
	ErrUnknownSensor = errors.New("unknown sensor")
	// ErrDuplicateSensor is returned (wrapped) by Registry.Register for a
	// name already taken.
	ErrDuplicateSensor = errors.New("sensor already registered")
)

// ParseError is a bad line in a topology or link model text.
type ParseError struct {
	What   string // "topology" or "link model"
	Source string // file path; "" for a config value
	Line   int    // 1-based
	Msg    string
}

func (e *ParseError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s %s:%d: %s", e.What, e.Source, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s line %d: %s", e.What, e.Line, e.Msg)
}
