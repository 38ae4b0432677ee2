package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
)

const (
	defaultUpdateTimeout = 5 * time.Second
	tsigFudge            = 300 // seconds of clock skew the server accepts
)

// Updater pushes names into a site's DNS server (BIND, say) with RFC 2136
// dynamic updates signed with TSIG, as Tashi's DhcpDns hook did with
// nsupdate. Each forward or reverse change is one update message: the
// forward zone and the reverse zone are changed separately, forward first,
// so an error may leave the forward change done; Add and Remove are
// idempotent and can simply be retried.
// An Updater is safe for concurrent use if its fields are not changed.
type Updater struct {
	// Server is the zone's primary as host:port (Tashi's dnsServer).
	Server string
	// Zone is the forward zone the names live in (Tashi's dnsDomain).
	Zone string
	// Reverse also maintains PTR records (Tashi's reverseDns).
	Reverse bool
	// ReverseZone holds the PTRs; "" means each address's /24 zone
	// (c.b.a.in-addr.arpa.).
	ReverseZone string
	// TTL of the records; 0 means DefaultTTL (Tashi's dnsExpire).
	TTL uint32
	// Key signs the updates (Tashi's dnsKeyFile, see ReadKeyFile). The
	// zero Key sends them unsigned.
	Key Key
	// Timeout bounds each exchange; 0 means 5 s. A deadline on the
	// context passed in also applies.
	Timeout time.Duration
	// Logger receives one debug line per update; nil discards.
	Logger *slog.Logger
}

// change is one validated name and address.
type change struct {
	name, zone       string
	addr             netip.Addr
	ptrName, ptrZone string
}

// Add makes ip the only address of name: it deletes name's A RRset and
// adds the A record in one update, then, if Reverse, replaces the PTR of
// ip with name. A PTR left by an earlier address of name is not removed:
// call Remove with the old address first.
func (u *Updater) Add(ctx context.Context, name string, ip net.IP) error {
	c, err := u.change(name, ip, true)
	if err != nil {
		return fmt.Errorf("add dns name %q: %w", name, err)
	}
	m := new(mdns.Msg)
	m.SetUpdate(c.zone)
	m.RemoveRRset([]mdns.RR{&mdns.A{Hdr: u.hdr(c.name, mdns.TypeA)}})
	m.Insert([]mdns.RR{&mdns.A{Hdr: u.hdr(c.name, mdns.TypeA), A: c.addr.AsSlice()}})
	if err := u.send(ctx, m, c.zone, c.name); err != nil {
		return err
	}
	if !u.Reverse {
		return nil
	}
	m = new(mdns.Msg)
	m.SetUpdate(c.ptrZone)
	m.RemoveRRset([]mdns.RR{&mdns.PTR{Hdr: u.hdr(c.ptrName, mdns.TypePTR)}})
	m.Insert([]mdns.RR{&mdns.PTR{Hdr: u.hdr(c.ptrName, mdns.TypePTR), Ptr: c.name}})
	return u.send(ctx, m, c.ptrZone, c.ptrName)
}

// Remove deletes name's A RRset and, if Reverse, the PTR from ip to name
// (a PTR that now names another host is left alone). ip may be nil when
// Reverse is off. Removing what is not there succeeds.
func (u *Updater) Remove(ctx context.Context, name string, ip net.IP) error {
	c, err := u.change(name, ip, u.Reverse)
	if err != nil {
		return fmt.Errorf("remove dns name %q: %w", name, err)
	}
	m := new(mdns.Msg)
	m.SetUpdate(c.zone)
	m.RemoveRRset([]mdns.RR{&mdns.A{Hdr: u.hdr(c.name, mdns.TypeA)}})
	if err := u.send(ctx, m, c.zone, c.name); err != nil {
		return err
	}
	if !u.Reverse {
		return nil
	}
	m = new(mdns.Msg)
	m.SetUpdate(c.ptrZone)
	m.Remove([]mdns.RR{&mdns.PTR{Hdr: u.hdr(c.ptrName, mdns.TypePTR), Ptr: c.name}})
	return u.send(ctx, m, c.ptrZone, c.ptrName)
}

// change validates the Updater's fields and one name and address.
func (u *Updater) change(name string, ip net.IP, needIP bool) (change, error) {
	var c change
	var err error
	if _, _, err := net.SplitHostPort(u.Server); err != nil {
		return c, &FieldError{Field: "Updater.Server", Value: u.Server, Reason: "not host:port such as 192.0.2.53:53"}
	}
	if c.zone, err = CanonicalName(u.Zone); err != nil {
		return c, &FieldError{Field: "Updater.Zone", Value: u.Zone, Reason: err.Error()}
	}
	if u.Key != (Key{}) {
		if err := u.Key.check(); err != nil {
			return c, err
		}
	}
	if c.name, err = CanonicalName(name); err != nil {
		return c, &FieldError{Field: "name", Value: name, Reason: err.Error()}
	}
	if !inZone(c.name, c.zone) {
		return c, &FieldError{Field: "name", Value: name, Reason: "not inside zone " + c.zone}
	}
	if !needIP {
		return c, nil
	}
	return u.reverse(c, ip)
}

// reverse fills in the address, the PTR name and its zone.
func (u *Updater) reverse(c change, ip net.IP) (change, error) {
	var ok bool
	if c.addr, ok = ipv4(ip); !ok {
		return c, &FieldError{Field: "ip", Value: ip.String(), Reason: "not an IPv4 address"}
	}
	c.ptrName = reverseName(c.addr)
	if u.ReverseZone == "" {
		c.ptrZone, _ = reverseZone(netip.PrefixFrom(c.addr, 24))
		return c, nil
	}
	rz, err := CanonicalName(u.ReverseZone)
	if err != nil || !inZone(rz, "in-addr.arpa.") {
		return c, &FieldError{Field: "Updater.ReverseZone", Value: u.ReverseZone, Reason: "not an in-addr.arpa. zone"}
	}
	if !inZone(c.ptrName, rz) {
		return c, &FieldError{Field: "ip", Value: ip.String(), Reason: "outside reverse zone " + rz}
	}
	c.ptrZone = rz
	return c, nil
}

func (u *Updater) hdr(name string, t uint16) mdns.RR_Header {
	ttl := u.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: ttl}
}

// send signs m (last, after every change) and exchanges it over UDP,
// retrying over TCP if the response is truncated.
func (u *Updater) send(ctx context.Context, m *mdns.Msg, zone, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("send update of %s to %s: %w", name, u.Server, err)
	}
	timeout := u.Timeout
	if timeout == 0 {
		timeout = defaultUpdateTimeout
	}
	cl := &mdns.Client{Net: "udp", Timeout: timeout}
	signed := u.Key != (Key{})
	if signed {
		kname, alg := u.Key.tsig()
		cl.TsigSecret = map[string]string{kname: u.Key.Secret}
		m.SetTsig(kname, alg, tsigFudge, time.Now().Unix())
	}
	start := time.Now()
	r, _, err := cl.ExchangeContext(ctx, m, u.Server)
	if err == nil && r.Truncated {
		cl.Net = "tcp"
		r, _, err = cl.ExchangeContext(ctx, m, u.Server)
	}
	err = u.check(r, err, signed, zone, name)
	u.logger().Debug("dns update", "server", u.Server, "zone", zone, "name", name,
		"took", time.Since(start), "error", err)
	return err
}

// check turns a response and exchange error into our error.
func (u *Updater) check(r *mdns.Msg, err error, signed bool, zone, name string) error {
	if r != nil && r.Response && r.Rcode != mdns.RcodeSuccess {
		ue := &UpdateError{Server: u.Server, Zone: zone, Name: name, Rcode: r.Rcode}
		if t := r.IsTsig(); t != nil {
			ue.TSIGError = t.Error
		}
		return ue
	}
	if err != nil && isTSIGError(err) {
		return fmt.Errorf("update of %s at %s: %w: %w", name, u.Server, ErrBadSignature, err)
	}
	if err != nil {
		return fmt.Errorf("send update of %s to %s: %w", name, u.Server, err)
	}
	if signed && r.IsTsig() == nil {
		return fmt.Errorf("update of %s at %s: %w: the response has no TSIG", name, u.Server, ErrBadSignature)
	}
	return nil
}

func isTSIGError(err error) bool {
	for _, e := range []error{mdns.ErrSig, mdns.ErrTime, mdns.ErrKeyAlg, mdns.ErrSecret, mdns.ErrNoSig, mdns.ErrAuth} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (u *Updater) logger() *slog.Logger {
	if u.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return u.Logger
}
