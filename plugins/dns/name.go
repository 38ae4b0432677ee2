package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

const (
	maxNameLen  = 253 // presentation length of a name without its final dot
	maxLabelLen = 63
)

// CanonicalName returns name as a lowercase FQDN (with the final dot) after
// checking it is a host name that BIND's check-names accepts: labels of 1
// to 63 letters, digits and inner hyphens, 253 characters at most.
func CanonicalName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	if n == "" {
		return "", errors.New("empty name")
	}
	if len(n) > maxNameLen {
		return "", fmt.Errorf("longer than %d characters", maxNameLen)
	}
	for _, label := range strings.Split(n, ".") {
		if err := checkLabel(label); err != nil {
			return "", err
		}
	}
	return n + ".", nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("empty label (two dots in a row?)")
	case len(label) > maxLabelLen:
		return fmt.Errorf("label %q longer than %d characters", label, maxLabelLen)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with '-'", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q has %q; use letters, digits and '-'", label, c)
		}
	}
	return nil
}

// inZone reports whether the canonical name is zone or below it.
func inZone(name, zone string) bool {
	if name == zone {
		return true
	}
	return strings.HasSuffix(name, "."+zone)
}

// ipv4 returns ip as a 4-byte address or false.
func ipv4(ip net.IP) (netip.Addr, bool) {
	v4 := ip.To4()
	if v4 == nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(v4)), true
}

// reverseName returns d.c.b.a.in-addr.arpa. for a.b.c.d.
func reverseName(a netip.Addr) string {
	b := a.As4()
	return reverseLabels(b[:]) + "in-addr.arpa."
}

// reverseZone returns the in-addr.arpa zone holding the prefix: the
// enclosing octet boundary, so 10.88.0.0/22 gives 88.10.in-addr.arpa.
// Prefixes longer than /24 give their /24 zone.
func reverseZone(p netip.Prefix) (string, error) {
	if !p.Addr().Is4() {
		return "", errors.New("not an IPv4 prefix")
	}
	if p.Bits() < 8 {
		return "", errors.New("prefix shorter than /8")
	}
	octets := min(p.Bits()/8, 3)
	b := p.Masked().Addr().As4()
	return reverseLabels(b[:octets]) + "in-addr.arpa.", nil
}

func reverseLabels(b []byte) string {
	var sb strings.Builder
	for i := len(b) - 1; i >= 0; i-- {
		sb.WriteString(strconv.Itoa(int(b[i])))
		sb.WriteByte('.')
	}
	return sb.String()
}
