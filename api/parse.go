package api

import (
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strings"
)

// This file holds the parsers for Tashi's argument formats (--disks, --nics,
// --hints) and the matching formatters. Errors are *Error with CodeInvalid,
// naming the field and what is accepted.

// ParseBool parses a boolean as Tashi's boolean() does: yes, true or 1;
// no, false or 0; in any case.
func ParseBool(field, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "1":
		return true, nil
	case "no", "false", "0":
		return false, nil
	}
	return false, Errorf(CodeInvalid, field,
		"%s: %q is not a boolean; accepted: yes, true, 1, no, false, 0 (any case)", field, s)
}

// ParseDisks parses --disks: a comma-separated list of uri[:persistent],
// for example "hardy.qcow2:True,scratch.qcow2". Persistent defaults to false.
func ParseDisks(s string) ([]Disk, error) {
	items, err := splitItems("disks", s, "uri[:persistent]")
	if err != nil {
		return nil, err
	}
	disks := make([]Disk, 0, len(items))
	for i, item := range items {
		d, err := parseDisk(i, item)
		if err != nil {
			return nil, err
		}
		disks = append(disks, d)
	}
	return disks, nil
}

func parseDisk(i int, item string) (Disk, error) {
	const accepted = "expected uri[:persistent], e.g. tiny.qcow2 or data.qcow2:true"
	parts := strings.Split(item, ":")
	if len(parts) > 2 {
		return Disk{}, Errorf(CodeInvalid, "disks", "disks: disk %d %q has more than one ':'; %s",
			i+1, item, accepted)
	}
	d := Disk{URI: strings.TrimSpace(parts[0])}
	if d.URI == "" {
		return Disk{}, Errorf(CodeInvalid, "disks", "disks: disk %d %q has an empty uri; %s",
			i+1, item, accepted)
	}
	if len(parts) == 2 {
		p, err := ParseBool("persistent", parts[1])
		if err != nil {
			return Disk{}, Errorf(CodeInvalid, "disks", "disks: disk %d %q: persistent flag %q "+
				"is not a boolean; accepted: yes, true, 1, no, false, 0", i+1, item, parts[1])
		}
		d.Persistent = p
	}
	return d, nil
}

// FormatDisks is the inverse of ParseDisks, in Tashi's display form
// ("uri:True" for a persistent disk, "uri" otherwise).
func FormatDisks(ds []Disk) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.URI
		if d.Persistent {
			parts[i] += ":True"
		}
	}
	return strings.Join(parts, ",")
}

// ParseNICs parses --nics: a comma-separated list of network:ip:mac. An
// empty network means the default network, an empty ip none, an empty mac
// one the CM picks. The mac is everything after the second colon, so
// "1::52:54:00:00:56:78" works. IPs are IPv4; MACs are 6-byte unicast.
func ParseNICs(s string) ([]NIC, error) {
	items, err := splitItems("nics", s, "network:ip:mac (use :: for the default network)")
	if err != nil {
		return nil, err
	}
	nics := make([]NIC, 0, len(items))
	for i, item := range items {
		n, err := parseNIC(i, item)
		if err != nil {
			return nil, err
		}
		nics = append(nics, n)
	}
	return nics, nil
}

func parseNIC(i int, item string) (NIC, error) {
	parts := strings.SplitN(item, ":", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	n := NIC{Network: strings.TrimSpace(parts[0])}
	ip, mac := strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
	if ip != "" {
		a, err := ParseIPv4(ip)
		if err != nil {
			return NIC{}, Errorf(CodeInvalid, "nics", "nics: nic %d %q: %v", i+1, item, err)
		}
		n.IP = a
	}
	if mac != "" {
		m, err := ParseMAC(mac)
		if err != nil {
			return NIC{}, Errorf(CodeInvalid, "nics", "nics: nic %d %q: %v", i+1, item, err)
		}
		n.MAC = m
	}
	return n, nil
}

// ParseIPv4 checks that s is a host IPv4 address (not unspecified,
// multicast or broadcast) and returns it in canonical form.
func ParseIPv4(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return "", Errorf(CodeInvalid, "ip", "ip %q is not an IPv4 address such as 10.0.0.5", s)
	}
	if a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "", Errorf(CodeInvalid, "ip", "ip %q cannot be a guest's address; "+
			"accepted: a unicast IPv4 address such as 10.0.0.5", s)
	}
	return a.String(), nil
}

// ParseMAC checks that s is a 6-byte unicast MAC address, not all zero,
// and returns it as lower-case colon-separated hex.
func ParseMAC(s string) (string, error) {
	const accepted = "accepted: a 6-byte unicast MAC such as 52:54:00:12:34:56"
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", Errorf(CodeInvalid, "mac", "mac %q is not a MAC address; %s", s, accepted)
	}
	if hw[0]&1 != 0 {
		return "", Errorf(CodeInvalid, "mac", "mac %q is a multicast address; %s", s, accepted)
	}
	if string(hw) == string(make([]byte, 6)) {
		return "", Errorf(CodeInvalid, "mac", "mac %q is all zero; %s", s, accepted)
	}
	return hw.String(), nil
}

// FormatNICs is the inverse of ParseNICs: network:ip:mac for each NIC.
func FormatNICs(ns []NIC) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.Network + ":" + n.IP + ":" + n.MAC
	}
	return strings.Join(parts, ",")
}

var hintKey = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ListHints are the hints whose value is a comma-separated list.
var ListHints = map[string]bool{"dfsFiles": true}

// ParseHints parses --hints: k=v,k2=v2. Keys are made of letters, digits,
// '_', '.' and '-'; a key may appear once; keys starting with "__" are
// reserved for the system. The value is everything after the first '='.
// After a list hint (ListHints), an item with no '=' continues its value:
// dfsFiles=/data/a,/data/b. An empty string means no hints
// (a nil map).
func ParseHints(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	items, err := splitItems("hints", s, "key=value")
	if err != nil {
		return nil, err
	}
	hints := make(map[string]string, len(items))
	last := ""
	for i, item := range items {
		if !strings.Contains(item, "=") && ListHints[last] {
			hints[last] += "," + item
			continue
		}
		k, v, err := parseHint(i, item)
		if err != nil {
			return nil, err
		}
		if _, dup := hints[k]; dup {
			return nil, Errorf(CodeInvalid, "hints", "hints: key %q is given twice; "+
				"each key may appear once", k)
		}
		hints[k], last = v, k
	}
	return hints, nil
}

func parseHint(i int, item string) (key, value string, err error) {
	k, v, ok := strings.Cut(item, "=")
	k = strings.TrimSpace(k)
	switch {
	case !ok:
		return "", "", Errorf(CodeInvalid, "hints", "hints: hint %d %q has no '='; "+
			"expected key=value, e.g. targetHost=h1,densePack=true", i+1, item)
	case !hintKey.MatchString(k):
		return "", "", Errorf(CodeInvalid, "hints", "hints: key %q of hint %d is not valid; "+
			"accepted: a non-empty key of letters, digits, '_', '.' and '-'", k, i+1)
	case strings.HasPrefix(k, "__"):
		return "", "", Errorf(CodeInvalid, "hints", "hints: key %q is reserved for the system "+
			"(keys starting with __ are refused)", k)
	}
	return k, v, nil
}

// FormatHints is the inverse of ParseHints, with the keys sorted.
func FormatHints(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + h[k]
	}
	return strings.Join(parts, ",")
}

// splitItems splits a comma-separated list, trimming spaces around each
// item; an empty list or an empty item is an error.
func splitItems(field, s, format string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, Errorf(CodeInvalid, field, "%s: empty; expected a comma-separated list of %s",
			field, format)
	}
	items := strings.Split(s, ",")
	for i := range items {
		items[i] = strings.TrimSpace(items[i])
		if items[i] == "" {
			return nil, Errorf(CodeInvalid, field, "%s: item %d of %q is empty; "+
				"expected a comma-separated list of %s", field, i+1, s, format)
		}
	}
	return items, nil
}
