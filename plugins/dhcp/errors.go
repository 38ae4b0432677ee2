package dhcp

import "errors"

var (
	// ErrInvalidLease: a Lease that cannot be served (no 6-byte MAC, no
	// IPv4 address, a bad mask, a non-IPv4 router or DNS server, an MTU
	// outside 68..65535, a lease time outside 0..2^32-1 s).
	ErrInvalidLease = errors.New("invalid dhcp lease")
	// ErrAddressInUse: Table.Set was given an address that another MAC in
	// the table already holds.
	ErrAddressInUse = errors.New("address already leased to another mac")
	// ErrBadServerID: a server identifier that is not a unicast IPv4
	// address.
	ErrBadServerID = errors.New("server identifier must be a unicast ipv4 address")
)
