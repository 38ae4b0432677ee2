package dns

import (
	"errors"
	"fmt"

	mdns "github.com/miekg/dns"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalid is wrapped by every *FieldError: a bad zone setting,
	// record, key or updater field.
	ErrInvalid = errors.New("invalid dns setting")
	// ErrRefused is wrapped by an *UpdateError whose server would not
	// accept the update (REFUSED, NOTAUTH, NOTZONE): a key, ACL or zone
	// problem that retrying will not fix.
	ErrRefused = errors.New("update refused")
	// ErrUpdateFailed is wrapped by an *UpdateError with any other error
	// code (SERVFAIL, ...).
	ErrUpdateFailed = errors.New("update failed")
	// ErrBadSignature means the server answered a signed update with a
	// response whose TSIG is missing or does not verify.
	ErrBadSignature = errors.New("response not signed with our key")
)

// FieldError names a bad input, its value and what is accepted.
type FieldError struct {
	Field  string // e.g. "ZoneConfig.Domains[1]", "records[3].IP", "Updater.Server"
	Value  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// UpdateError is a DNS server's negative answer to an update.
type UpdateError struct {
	Server    string // host:port
	Zone      string // zone named in the update
	Name      string // owner name being changed
	Rcode     int    // response code, e.g. RcodeNotAuth of github.com/miekg/dns
	TSIGError uint16 // error field of the response's TSIG, 0 if none
}

func (e *UpdateError) Error() string {
	verb := "failed"
	if e.refused() {
		verb = "refused"
	}
	code := mdns.RcodeToString[e.Rcode]
	if code == "" {
		code = fmt.Sprintf("RCODE%d", e.Rcode)
	}
	if e.TSIGError != 0 {
		code += "/" + mdns.RcodeToString[int(e.TSIGError)]
	}
	return fmt.Sprintf("dns server %s %s the update of %s in zone %s: %s (%s)",
		e.Server, verb, e.Name, e.Zone, code, e.hint())
}

// Unwrap returns ErrRefused or ErrUpdateFailed.
func (e *UpdateError) Unwrap() error {
	if e.refused() {
		return ErrRefused
	}
	return ErrUpdateFailed
}

func (e *UpdateError) refused() bool {
	switch e.Rcode {
	case mdns.RcodeRefused, mdns.RcodeNotAuth, mdns.RcodeNotZone:
		return true
	}
	return false
}

func (e *UpdateError) hint() string {
	switch {
	case e.TSIGError == mdns.RcodeBadTime:
		return "are the clocks in sync?"
	case e.TSIGError == mdns.RcodeBadKey:
		return "does the server know this TSIG key name and algorithm?"
	case e.TSIGError == mdns.RcodeBadSig:
		return "is the TSIG key right?"
	case e.Rcode == mdns.RcodeNotAuth:
		return "is the TSIG key right, and is the server primary for the zone?"
	case e.Rcode == mdns.RcodeRefused:
		return "does the zone's allow-update or update-policy grant this key?"
	case e.Rcode == mdns.RcodeNotZone:
		return "is the name inside the zone?"
	}
	return "see the server's log"
}

// ErrServerClosed is returned by Server.Start and Server.Serve after Close.
var ErrServerClosed = errors.New("dns server closed")
