package api

import "time"

// HostUp is the liveness rule: a host is up while its last heartbeat is
// younger than expire. Evaluated at read time; nothing stores "up".
func HostUp(last *time.Time, now time.Time, expire time.Duration) bool {
	return last != nil && now.Sub(*last) < expire
}

// Displayed is the state users see: the VMs of a host that is down read
// as Orphaned, and return to their recorded state when it comes back.
func Displayed(recorded InstanceState, onHost, hostUp bool) InstanceState {
	if onHost && !hostUp && recorded != Exited {
		return Orphaned
	}
	return recorded
}
