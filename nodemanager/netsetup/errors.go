package netsetup

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid is matched (errors.Is) by every *InvalidError.
	ErrInvalid = errors.New("invalid network setup")

	// ErrVLANUnsupported is returned when the kernel cannot make 802.1Q
	// VLAN devices.
	ErrVLANUnsupported = errors.New("this kernel lacks 802.1Q VLAN support (CONFIG_VLAN_8021Q): " +
		"vlan networks cannot be wired on this host; vxlan or bridge networks work")

	// ErrConflict means a link has the name this package would give one
	// of its devices but is of another kind (or is not one of ours).
	// Such a link is never changed or deleted.
	ErrConflict = errors.New("link name taken by a link netsetup did not make")

	// ErrNoNetwork means the network's bridge or VXLAN device does not
	// exist on this host: call EnsureNetwork first.
	ErrNoNetwork = errors.New("network not set up on this host")
)

// InvalidError names a bad input and what is accepted.
type InvalidError struct {
	Field    string // e.g. "SegmentID", "Config.Local"
	Value    any
	Accepted string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("%s %v is not valid; accepted: %s", e.Field, e.Value, e.Accepted)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field string, value any, accepted string) error {
	return &InvalidError{Field: field, Value: value, Accepted: accepted}
}
