package scheduler

import (
	"fmt"
	"time"
)

// invalid is the check of a request before any host is looked at.
func invalid(r *Request) (Reason, string) {
	switch {
	case r.Hints.Invalid != "":
		return ReasonInvalidHints, r.Hints.Invalid
	case r.Cores < 1 || r.Memory < 1:
		return ReasonInvalid, "cores and memory must be at least 1"
	}
	return OK, ""
}

func explanation(r *Request, why Reason, now time.Time) Explanation {
	e := Explanation{InstanceID: r.InstanceID, Version: r.Version, Reason: why}
	if !r.Created.IsZero() && now.After(r.Created) {
		e.Waited = now.Sub(r.Created)
	}
	return e
}

// explain counts, for a request choose found no host for, the reason
// every host was rejected, as Nomad's AllocMetric does. The counts are
// exact, whichever way they are taken: from sample's own tally when it saw
// every host; from the free-cores index when only capacity and the host
// itself decide; else from a scan of every host with the filter chain.
func (p *placer) explain(j *job, now time.Time) Explanation {
	e := explanation(j.r, ReasonNoHost, now)
	var t tally
	switch {
	case p.tallied:
		t = p.tally
	case j.target == noTarget && !j.diskBusy:
		t = p.countByIndex(j)
	default:
		for i := range p.hosts {
			t[p.check(int32(i), j)]++
		}
	}
	e.Hosts, e.Rejected = len(p.hosts), t.counts()
	if j.target == unknownTarget {
		e.Detail = "targetHost " + quote(j.r.Hints.TargetHost) + " matches no host"
	}
	return e
}

// countByIndex is the scan of every host without visiting most of them,
// for a request with no target host and no busy disk. Hosts outside the
// index failed hostState (counted when it was built). A host in a bucket
// below the request's cores passes hostState and targetHost, so the
// filter chain stops it at reservation (when reserved for others) or else
// at capacity for cores. Only the hosts with enough free cores, and the
// reserved ones, are looked at.
func (p *placer) countByIndex(j *job) tally {
	x := p.freeIndex()
	t := x.unusable
	for c := j.r.Cores; c < len(x.buckets); c++ {
		for _, i := range x.buckets[c] {
			t[p.check(i, j)]++
		}
	}
	short := 0
	for c := 0; c < min(j.r.Cores, len(x.buckets)); c++ {
		short += len(x.buckets[c])
	}
	for _, i := range x.reserved {
		if b := x.bucket[i]; b >= 0 && int(b) < j.r.Cores && reservation(&p.hosts[i], j.r.User) != OK {
			t[ReasonReserved]++
			short--
		}
	}
	t[ReasonCores] += short
	return t
}

func quote(s string) string { return `"` + s + `"` }

// Locality says how near its data a placement is, for tashi explain:
// "locality 812/1024 MiB node-local, 150 MiB rack-local" (MiB rounded
// to the nearest); "" for a request without data. For a member of a data
// group the figures are its own share.
func (p Placement) Locality() string {
	if p.RequestedBytes <= 0 && p.Blocks == nil {
		return ""
	}
	s := fmt.Sprintf("locality %d/%d MiB node-local", mibs(p.LocalBytes), mibs(p.RequestedBytes))
	if p.RackBytes > 0 {
		s += fmt.Sprintf(", %d MiB rack-local", mibs(p.RackBytes))
	}
	return s
}

func mibs(b int64) int64 { return (b + 1<<19) >> 20 }
