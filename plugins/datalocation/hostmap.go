package datalocation

import (
	"fmt"
	"net/netip"
	"strings"
)

// ComputeHost is a host that can run VMs, as the scheduler knows it: its name
// and the addresses it is known by.
type ComputeHost struct {
	Name  string
	Addrs []string
}

// HostMap matches storage hosts (as Block.Hosts names them) to compute hosts.
// The zero value has no explicit entries and matches by name and address.
type HostMap struct {
	explicit map[string]string // normalised storage host -> compute host name
}

// hostMapForm is the accepted syntax, quoted in errors.
const hostMapForm = `"storagehost=computehost[,storagehost=computehost...]", e.g. "10.213.0.11=host1,dn3=host7"`

// ParseHostMap reads explicit entries "10.213.0.11=host1,dn3=host7". Blank
// input gives an empty map. Each storage host may appear once.
func ParseHostMap(s string) (HostMap, error) {
	m := HostMap{explicit: map[string]string{}}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for i, entry := range strings.Split(s, ",") {
		storage, compute, err := parseHostMapEntry(entry)
		if err != nil {
			return HostMap{}, fmt.Errorf("parse host map entry %d %q: %w (accepted form: %s)",
				i+1, strings.TrimSpace(entry), err, hostMapForm)
		}
		key := normHost(storage)
		if prev, dup := m.explicit[key]; dup {
			return HostMap{}, fmt.Errorf("parse host map entry %d %q: storage host %q already mapped to %q",
				i+1, strings.TrimSpace(entry), storage, prev)
		}
		m.explicit[key] = compute
	}
	return m, nil
}

func parseHostMapEntry(entry string) (storage, compute string, err error) {
	storage, compute, ok := strings.Cut(entry, "=")
	storage, compute = strings.TrimSpace(storage), strings.TrimSpace(compute)
	switch {
	case !ok:
		return "", "", fmt.Errorf("missing \"=\"")
	case storage == "":
		return "", "", fmt.Errorf("empty storage host")
	case compute == "":
		return "", "", fmt.Errorf("empty compute host")
	case strings.ContainsAny(storage+compute, " \t=\n"):
		return "", "", fmt.Errorf("host names may not contain blanks or \"=\"")
	}
	return storage, compute, nil
}

// Map finds the compute host that storageHost runs on. In order:
//  1. an explicit entry wins: ok only if its compute host is in computeHosts
//     (an entry naming an absent host does not fall through to the rules below);
//  2. a compute host whose Name equals storageHost (case-insensitive);
//  3. the first compute host with an address equal to storageHost (IP
//     addresses compare by value, so "::ffff:10.0.0.1" matches "10.0.0.1").
//
// No DNS lookups are made.
func (m HostMap) Map(storageHost string, computeHosts []ComputeHost) (name string, ok bool) {
	key := normHost(storageHost)
	if target, found := m.explicit[key]; found {
		return target, hasName(computeHosts, target)
	}
	for _, h := range computeHosts {
		if normHost(h.Name) == key {
			return h.Name, true
		}
	}
	for _, h := range computeHosts {
		for _, a := range h.Addrs {
			if normHost(a) == key {
				return h.Name, true
			}
		}
	}
	return "", false
}

// Len is the number of explicit entries.
func (m HostMap) Len() int { return len(m.explicit) }

func hasName(hosts []ComputeHost, name string) bool {
	for _, h := range hosts {
		if h.Name == name {
			return true
		}
	}
	return false
}

// normHost makes names and addresses comparable: IP addresses in canonical
// form, names lower-case without a trailing dot.
func normHost(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return strings.TrimSuffix(strings.ToLower(s), ".")
}
