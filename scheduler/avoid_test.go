package scheduler

import (
	"testing"
	"time"
)

// A Held instance placed again avoids the hosts its activation failed
// on, and says so when only those are left.
func TestAvoidHostsWhereActivationFailed(t *testing.T) {
	snap := &Snapshot{Hosts: []Host{hostN("h1", 4, 4096), hostN("h2", 4, 4096)}}
	r := reqN(1, 1, 128)
	r.AvoidHosts = []int64{snap.Hosts[0].ID}
	res := Place(snap, []Request{r}, time.Unix(0, 0))
	if len(res.Placements) != 1 || res.Placements[0].HostID != snap.Hosts[1].ID {
		t.Fatalf("placed %+v; want host h2", res.Placements)
	}
	r.AvoidHosts = []int64{snap.Hosts[0].ID, snap.Hosts[1].ID}
	res = Place(snap, []Request{r}, time.Unix(0, 0))
	if len(res.Placements) != 0 || len(res.Unplaced) != 1 {
		t.Fatalf("placed on a host it failed on: %+v", res)
	}
	if got := res.Unplaced[0].String(); got != "no host fits: 2 hosts: 2 activation failed here before" {
		t.Errorf("explanation %q", got)
	}
}
