package scheduler

import (
	"reflect"
	"testing"

	"github.com/tashi-go/tashi/api"
)

func ptr(v int64) *int64 { return &v }

func TestFromAPI(t *testing.T) {
	in := &api.Snapshot{
		Hosts: []api.Host{
			{ID: 1, Name: "r1", State: api.HostNormal, Up: true, Cores: 8, Memory: 15872,
				UsedCores: 2, UsedMemory: 2048, Stats: api.HostStats{Load1: 0.5, FreeMemory: 9000}},
			{ID: 2, Name: "r2", State: api.HostDrained, Up: false, Cores: 4, Memory: 7680},
			{ID: 3, Name: "r3", State: api.HostVersionMismatch, Up: true, Cores: 4, Memory: 7680},
		},
		Reservations: map[int64][]int64{2: {7}},
		Instances: []api.Instance{
			{ID: 10, State: api.Running, HostID: ptr(1), UserID: 7, GroupID: ptr(4), Cores: 2, Memory: 2048,
				Hints: map[string]string{"antiAffinity": "web:soft"},
				Disks: []api.Disk{{URI: "data.qcow2", Persistent: true}, {URI: "base.qcow2"}}},
			{ID: 11, State: api.Exited, HostID: ptr(1)},
			{ID: 12, State: api.Pending, Version: 3, UserID: 7, GroupID: ptr(4), Cores: 1, Memory: 512,
				CreatedAt: t0, Hints: map[string]string{"antiAffinity": "web", "gang": "true", "priority": "2"},
				Disks: []api.Disk{{URI: "base.qcow2"}}},
			{ID: 13, State: api.Pending, Version: 1, Cores: 1, Memory: 512,
				Hints: map[string]string{"densePack": "perhaps"}},
		},
	}
	snap, reqs := FromAPI(in, Policy{DensePack: true})
	wantHosts := []Host{
		{ID: 1, Name: "r1", Up: true, State: HostNormal, Cores: 8, Memory: 15872, UsedCores: 2,
			UsedMemory: 2048, Load1: 0.5, FreeMemory: 9000},
		{ID: 2, Name: "r2", State: HostDrained, Cores: 4, Memory: 7680, ReservedFor: []int64{7}},
		{ID: 3, Name: "r3", Up: true, State: HostVersionMismatch, Cores: 4, Memory: 7680},
	}
	if !reflect.DeepEqual(snap.Hosts, wantHosts) {
		t.Errorf("hosts\n%+v\nwant\n%+v", snap.Hosts, wantHosts)
	}
	wantInst := []Instance{{ID: 10, Host: 1, Group: 4, User: 7, AntiAffinity: Label{Name: "web", Soft: true},
		PersistentDisks: []string{"data.qcow2"}}}
	if !reflect.DeepEqual(snap.Instances, wantInst) {
		t.Errorf("instances %+v, want %+v", snap.Instances, wantInst)
	}
	if !snap.Policy.DensePack || len(reqs) != 2 {
		t.Fatalf("policy %+v, %d requests", snap.Policy, len(reqs))
	}
	want := Request{InstanceID: 12, Version: 3, User: 7, Cores: 1, Memory: 512, Group: 4, Priority: 2,
		Created: t0, Hints: Hints{AntiAffinity: Label{Name: "web"}, Gang: true}}
	if !reflect.DeepEqual(reqs[0], want) {
		t.Errorf("request %+v, want %+v", reqs[0], want)
	}
	if reqs[1].Hints.Invalid == "" {
		t.Errorf("request 13 with a bad hint: Invalid not set")
	}
}

func TestPlans(t *testing.T) {
	res := Result{Placements: []Placement{
		{InstanceID: 1, Version: 1, HostID: 5},
		{InstanceID: 2, Version: 2, HostID: 6, Gang: 9},
		{InstanceID: 3, Version: 1, HostID: 7},
		{InstanceID: 4, Version: 1, HostID: 6, Gang: 9},
		{InstanceID: 5, Version: 1, HostID: 8, Gang: 3},
	}}
	got := Plans("a1", res)
	want := []api.Plan{
		{Agent: "a1", Atomic: true, Placements: []api.Placement{{InstanceID: 2, Version: 2, HostID: 6}, {InstanceID: 4, Version: 1, HostID: 6}}},
		{Agent: "a1", Atomic: true, Placements: []api.Placement{{InstanceID: 5, Version: 1, HostID: 8}}},
		{Agent: "a1", Placements: []api.Placement{{InstanceID: 1, Version: 1, HostID: 5}, {InstanceID: 3, Version: 1, HostID: 7}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plans\n%+v\nwant\n%+v", got, want)
	}
	if Plans("a1", Result{}) != nil {
		t.Errorf("no placements should give no plans")
	}
	many := Result{Placements: make([]Placement, MaxPlanPlacements+1)}
	if ps := Plans("a1", many); len(ps) != 2 || len(ps[0].Placements) != MaxPlanPlacements {
		t.Errorf("%d placements split into %d plans", len(many.Placements), len(ps))
	}
}

// The whole path: an api.Snapshot through FromAPI, Place and Plans.
func TestFromAPIToPlans(t *testing.T) {
	in := &api.Snapshot{Hosts: []api.Host{{ID: 1, Name: "r1", State: api.HostNormal, Up: true, Cores: 4, Memory: 4096}}}
	for id := int64(1); id <= 3; id++ {
		in.Instances = append(in.Instances, api.Instance{ID: id, State: api.Pending, Version: 1,
			Cores: 2, Memory: 1024, CreatedAt: t0})
	}
	snap, reqs := FromAPI(in, Policy{})
	res := Place(snap, reqs, t0)
	plans := Plans("a1", res)
	if len(plans) != 1 || len(plans[0].Placements) != 2 || len(res.Unplaced) != 1 ||
		res.Unplaced[0].String() != "no host fits: 1 hosts: 1 not enough cores" {
		t.Errorf("plans %+v, unplaced %v", plans, res.Unplaced)
	}
}
