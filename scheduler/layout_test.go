package scheduler

import (
	"testing"
)

// densePack on and off on a small cluster, read as Tashi's getVmLayout:
// three 12-core hosts, h2 and h3 already running one VM (1 and 2 cores),
// then six VMs of 3 cores (ids 101-106) asked for in one createMany.
// densePack fills the busiest host (h3) and then the next busiest (h2) and
// leaves h1 empty for big VMs; spread deals the VMs out round-robin onto
// whichever host is emptiest.
func TestDensePackLayout(t *testing.T) {
	hosts := []Host{
		hostN("h1", 12, 24576),
		hostN("h2", 12, 24576, used(1, 2048)),
		hostN("h3", 12, 24576, used(2, 4096)),
	}
	before := []Instance{inst(1, 2), inst(2, 3)}
	var vms []Request
	for id := int64(101); id <= 106; id++ {
		vms = append(vms, reqN(id, 3, 6144, group(5)))
	}
	cases := []struct {
		name  string
		dense bool
		hint  string // a per-request densePack hint, overriding the site
		want  []layoutRow
	}{
		{name: "densePack", dense: true, want: []layoutRow{
			{"h1", nil},
			{"h2", []int64{1, 104, 105, 106}},
			{"h3", []int64{2, 101, 102, 103}},
		}},
		{name: "spread", dense: false, want: []layoutRow{
			{"h1", []int64{101, 104}},
			{"h2", []int64{1, 102, 105}},
			{"h3", []int64{2, 103, 106}},
		}},
		{name: "site spread, hint densePack=true", dense: false, hint: "densePack=true", want: []layoutRow{
			{"h1", nil},
			{"h2", []int64{1, 104, 105, 106}},
			{"h3", []int64{2, 101, 102, 103}},
		}},
		{name: "site densePack, hint densePack=false", dense: true, hint: "densePack=false", want: []layoutRow{
			{"h1", []int64{101, 104}},
			{"h2", []int64{1, 102, 105}},
			{"h3", []int64{2, 103, 106}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := &Snapshot{Hosts: hosts, Instances: before, Policy: Policy{DensePack: c.dense}}
			reqs := make([]Request, len(vms))
			for i, r := range vms {
				if c.hint != "" {
					hints(c.hint)(&r)
				}
				reqs[i] = r
			}
			res := Place(snap, reqs, t0)
			if got, want := layoutText(layout(snap, res)), layoutText(c.want); got != want {
				t.Errorf("layout:\n%swant:\n%s", got, want)
			}
		})
	}
}

// Big VMs after small ones: densePack keeps an empty host for the VM that
// needs a whole machine; spread has scattered the small ones and cannot
// place it.
func TestDensePackKeepsRoomForBigVMs(t *testing.T) {
	hosts := []Host{hostN("h1", 8, 16384), hostN("h2", 8, 16384), hostN("h3", 8, 16384)}
	reqs := []Request{reqN(101, 2, 2048), reqN(102, 2, 2048), reqN(103, 2, 2048), reqN(104, 8, 16384)}
	for _, dense := range []bool{true, false} {
		res := Place(&Snapshot{Hosts: hosts, Policy: Policy{DensePack: dense}}, reqs, t0)
		placed := hostOfPlacement(res, 104) != 0
		if placed != dense {
			t.Errorf("densePack=%v: big VM placed=%v\n%s", dense, placed, layoutText(layout(&Snapshot{Hosts: hosts}, res)))
		}
	}
}
