package scheduler

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var (
	web     = Label{Name: "web"}
	webSoft = Label{Name: "web", Soft: true}
	db      = Label{Name: "db"}
)

// Every filter's reason, counted in the Explanation of a request that no
// host takes.
func TestFilterReasons(t *testing.T) {
	full := used(8, 0)
	cases := []struct {
		name   string
		snap   *Snapshot
		req    Request
		want   map[Reason]int
		detail string
	}{
		{"host down", cluster(hostN("h1", 8, 8192, down), hostN("h2", 8, 8192, down)),
			reqN(101, 2, 1024), map[Reason]int{ReasonHostDown: 2}, ""},
		{"host drained", cluster(hostN("h1", 8, 8192, drained)),
			reqN(101, 2, 1024), map[Reason]int{ReasonHostDrained: 1}, ""},
		{"version mismatch", cluster(hostN("h1", 8, 8192, mismatch)),
			reqN(101, 2, 1024), map[Reason]int{ReasonVersionMismatch: 1}, ""},
		{"not the target host", cluster(hostN("h1", 8, 8192), hostN("h2", 8, 8192, full)),
			reqN(101, 2, 1024, hints("targetHost=h2")), map[Reason]int{ReasonNotTarget: 1, ReasonCores: 1}, ""},
		{"target by id", cluster(hostN("h1", 8, 8192), hostN("h2", 8, 8192, full)),
			reqN(101, 2, 1024, hints("targetHost=2")), map[Reason]int{ReasonNotTarget: 1, ReasonCores: 1}, ""},
		{"unknown target", cluster(hostN("h1", 8, 8192), hostN("h2", 8, 8192)),
			reqN(101, 2, 1024, hints("targetHost=nosuch")), map[Reason]int{ReasonNotTarget: 2}, `targetHost "nosuch" matches no host`},
		{"reserved for other users", cluster(hostN("h1", 8, 8192, reservedFor(2, 3))),
			reqN(101, 2, 1024, user(1)), map[Reason]int{ReasonReserved: 1}, ""},
		{"persistent disk in use", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192), hostN("h2", 8, 8192)},
			Instances: []Instance{inst(9, 1, holding("data.qcow2"))}},
			reqN(101, 2, 1024, disks("data.qcow2")), map[Reason]int{ReasonDiskInUse: 2}, ""},
		{"not enough cores", cluster(hostN("h1", 8, 8192, used(7, 0))),
			reqN(101, 2, 1024), map[Reason]int{ReasonCores: 1}, ""},
		{"not enough memory", cluster(hostN("h1", 8, 8192, used(0, 8000))),
			reqN(101, 2, 1024), map[Reason]int{ReasonMemory: 1}, ""},
		{"anti-affinity", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192)},
			Instances: []Instance{inst(9, 1, inGroup(7), anti(web))}},
			reqN(101, 2, 1024, group(7), hints("antiAffinity=web")), map[Reason]int{ReasonAntiAffinity: 1}, ""},
		{"anti-affinity without group: same user", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192)},
			Instances: []Instance{inst(9, 1, anti(web))}},
			reqN(101, 2, 1024, hints("antiAffinity=web")), map[Reason]int{ReasonAntiAffinity: 1}, ""},
		{"affinity", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192, full), hostN("h2", 8, 8192)},
			Instances: []Instance{inst(9, 1, inGroup(7), aff(db))}},
			reqN(101, 2, 1024, group(7), hints("affinity=db")), map[Reason]int{ReasonCores: 1, ReasonAffinity: 1}, ""},
		{"first filter wins", cluster(hostN("h1", 8, 8192, down, full), hostN("h2", 8, 8192, drained),
			hostN("h3", 8, 8192, reservedFor(2), full), hostN("h4", 1, 8192), hostN("h5", 8, 512)),
			reqN(101, 2, 1024), map[Reason]int{ReasonHostDown: 1, ReasonHostDrained: 1, ReasonReserved: 1,
				ReasonCores: 1, ReasonMemory: 1}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Place(c.snap, []Request{c.req}, t0)
			if len(res.Placements) != 0 {
				t.Fatalf("placed %v, want nothing", res.Placements)
			}
			e := explanationFor(t, res, c.req.InstanceID)
			if e.Reason != ReasonNoHost || e.Hosts != len(c.snap.Hosts) {
				t.Errorf("reason %v over %d hosts, want %v over %d", e.Reason, e.Hosts, ReasonNoHost, len(c.snap.Hosts))
			}
			got := map[Reason]int{}
			for _, rc := range e.Rejected {
				got[rc.Reason] = rc.Hosts
			}
			if !equalCounts(got, c.want) {
				t.Errorf("rejected %v, want %v (%s)", got, c.want, e)
			}
			if e.Detail != c.detail {
				t.Errorf("detail %q, want %q", e.Detail, c.detail)
			}
		})
	}
}

func equalCounts(a, b map[Reason]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The same filters let the right hosts through.
func TestFiltersAdmit(t *testing.T) {
	cases := []struct {
		name string
		snap *Snapshot
		req  Request
		want int64 // host id
	}{
		{"target host", cluster(hostN("h1", 8, 8192), hostN("h2", 8, 8192), hostN("h3", 8, 8192)),
			reqN(101, 2, 1024, hints("targetHost=h2")), 2},
		{"target full, allowElsewhere", cluster(hostN("h1", 8, 8192, used(8, 0)), hostN("h2", 8, 8192)),
			reqN(101, 2, 1024, hints("targetHost=h1", "allowElsewhere=true")), 2},
		{"unknown target, allowElsewhere", cluster(hostN("h1", 8, 8192)),
			reqN(101, 2, 1024, hints("targetHost=zz", "allowElsewhere=yes")), 1},
		{"reserved for this user", cluster(hostN("h1", 8, 8192, reservedFor(2, 5))),
			reqN(101, 2, 1024, user(5)), 1},
		{"persistent disk held by itself", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192)},
			Instances: []Instance{inst(101, 1, holding("data.qcow2"))}},
			reqN(101, 2, 1024, disks("data.qcow2")), 1},
		{"anti-affinity: other group", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192)},
			Instances: []Instance{inst(9, 1, inGroup(8), anti(web))}},
			reqN(101, 2, 1024, group(7), hints("antiAffinity=web")), 1},
		{"anti-affinity: other label", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192)},
			Instances: []Instance{inst(9, 1, inGroup(7), anti(db))}},
			reqN(101, 2, 1024, group(7), hints("antiAffinity=web")), 1},
		{"anti-affinity: goes to the other host", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192), hostN("h2", 8, 8192, used(6, 0))},
			Instances: []Instance{inst(9, 1, inGroup(7), anti(web))}},
			reqN(101, 2, 1024, group(7), hints("antiAffinity=web")), 2},
		{"soft anti-affinity: avoids when it can", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192), hostN("h2", 8, 8192, used(6, 6000))},
			Instances: []Instance{inst(9, 1, inGroup(7), anti(webSoft))}},
			reqN(101, 2, 1024, group(7), hints("antiAffinity=web:soft")), 2},
		{"soft anti-affinity: shares when it must", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192), hostN("h2", 8, 8192, used(8, 0))},
			Instances: []Instance{inst(9, 1, inGroup(7), anti(webSoft))}},
			reqN(101, 2, 1024, group(7), hints("antiAffinity=web:soft")), 1},
		{"affinity: joins its label", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192), hostN("h2", 8, 8192), hostN("h3", 8, 8192)},
			Instances: []Instance{inst(9, 3, inGroup(7), aff(db))}},
			reqN(101, 2, 1024, group(7), hints("affinity=db")), 3},
		{"soft affinity: joins its label", &Snapshot{Hosts: []Host{hostN("h1", 8, 8192), hostN("h2", 8, 8192), hostN("h3", 8, 8192)},
			Instances: []Instance{inst(9, 3, inGroup(7), aff(db))}},
			reqN(101, 2, 1024, group(7), hints("affinity=db:soft")), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Place(c.snap, []Request{c.req}, t0)
			if got := hostOfPlacement(res, c.req.InstanceID); got != c.want {
				t.Fatalf("placed on host %d, want %d (unplaced: %v)", got, c.want, res.Unplaced)
			}
		})
	}
}

// Within one call, placements made earlier count: capacity, hard
// anti-affinity and persistent disks.
func TestFiltersSeeEarlierPlacements(t *testing.T) {
	snap := cluster(hostN("h1", 4, 4096), hostN("h2", 4, 4096))
	reqs := []Request{
		reqN(101, 1, 512, group(7), hints("antiAffinity=web")),
		reqN(102, 1, 512, group(7), hints("antiAffinity=web")),
		reqN(103, 1, 512, group(7), hints("antiAffinity=web")),
		reqN(104, 1, 512, disks("d.qcow2")),
		reqN(105, 1, 512, disks("d.qcow2")),
	}
	res := Place(snap, reqs, t0)
	if h1, h2 := hostOfPlacement(res, 101), hostOfPlacement(res, 102); h1 == 0 || h2 == 0 || h1 == h2 {
		t.Errorf("101 on %d and 102 on %d: want two different hosts", h1, h2)
	}
	if e := explanationFor(t, res, 103); e.Count(ReasonAntiAffinity) != 2 {
		t.Errorf("103: %s, want 2 hosts rejected for anti-affinity", e)
	}
	if hostOfPlacement(res, 104) == 0 {
		t.Errorf("104 not placed")
	}
	if e := explanationFor(t, res, 105); e.Count(ReasonDiskInUse) != 2 {
		t.Errorf("105: %s, want 2 hosts rejected for the disk in use", e)
	}
}

func TestRequestReasons(t *testing.T) {
	snap := cluster(hostN("h1", 8, 8192))
	reqs := []Request{
		reqN(101, 0, 1024),
		reqN(102, 1, 1024, hints("densePack=maybe")),
		reqN(103, 1, 1024),
		reqN(103, 1, 1024),
	}
	res := Place(snap, reqs, t0)
	want := map[int64]Reason{101: ReasonInvalid, 102: ReasonInvalidHints}
	for id, why := range want {
		if e := explanationFor(t, res, id); e.Reason != why {
			t.Errorf("%d: %v, want %v", id, e.Reason, why)
		}
	}
	if len(res.Placements) != 1 || len(res.Unplaced) != 3 || res.Unplaced[2].Reason != ReasonDuplicate {
		t.Errorf("want 103 placed once and its duplicate explained; got %v / %v", res.Placements, res.Unplaced)
	}
	if e := explanationFor(t, res, 102); !strings.Contains(e.String(), `densePack="maybe" is not a boolean`) {
		t.Errorf("explanation %q does not say what was wrong", e)
	}
}

func TestExplanationString(t *testing.T) {
	e := Explanation{Reason: ReasonGang, GangMember: 17, Hosts: 10,
		Rejected: []ReasonCount{{ReasonHostDown, 3}, {ReasonMemory, 7}}}
	if got, want := e.String(), "gang does not fit: instance 17: 10 hosts: 3 host down, 7 not enough memory"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	b, err := json.Marshal(e)
	var back Explanation
	if err != nil || json.Unmarshal(b, &back) != nil || !reflect.DeepEqual(back, e) ||
		!strings.Contains(string(b), `"reason":"not enough memory"`) {
		t.Errorf("JSON %s does not read back (%v): %+v", b, err, back)
	}
}
