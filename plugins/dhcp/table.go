package dhcp

import (
	"fmt"
	"net"
	"sync"
)

// Table is a goroutine-safe MAC -> Lease map: the leases of one node
// manager's guests. The zero value is an empty table ready to use. No two
// MACs in a table ever hold the same address.
type Table struct {
	mu     sync.RWMutex
	byMAC  map[string]Lease
	byAddr map[string]string // ip (4 bytes) -> mac
}

// Set adds or replaces the lease of l.MAC. It fails with ErrInvalidLease
// for a lease that cannot be served and with ErrAddressInUse when another
// MAC holds l.IP (delete that MAC first).
func (t *Table) Set(l Lease) error {
	if err := l.validate(); err != nil {
		return fmt.Errorf("set dhcp lease: %w", err)
	}
	l = l.clone()
	mac, ip := string(l.MAC), string(l.IP.To4())
	t.mu.Lock()
	defer t.mu.Unlock()
	if other, ok := t.byAddr[ip]; ok && other != mac {
		return fmt.Errorf("set dhcp lease %s for mac %s: %w (%s)",
			l.IP, l.MAC, ErrAddressInUse, net.HardwareAddr(other))
	}
	if t.byMAC == nil {
		t.byMAC, t.byAddr = map[string]Lease{}, map[string]string{}
	}
	if old, ok := t.byMAC[mac]; ok {
		delete(t.byAddr, string(old.IP.To4()))
	}
	t.byMAC[mac], t.byAddr[ip] = l, mac
	return nil
}

// Delete removes the lease of mac, if any.
func (t *Table) Delete(mac net.HardwareAddr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.byMAC[string(mac)]; ok {
		delete(t.byAddr, string(old.IP.To4()))
		delete(t.byMAC, string(mac))
	}
}

// Lookup returns a copy of the lease of mac.
func (t *Table) Lookup(mac net.HardwareAddr) (Lease, bool) {
	t.mu.RLock()
	l, ok := t.byMAC[string(mac)]
	t.mu.RUnlock()
	if !ok {
		return Lease{}, false
	}
	return l.clone(), true
}

// Len returns the number of leases.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byMAC)
}
