package scheduler

import (
	"time"
)

// DefaultCandidateLimit is how many feasible hosts Place scores per
// request when Policy.CandidateLimit is 0. See README.md for its effect
// on quality.
const DefaultCandidateLimit = 16

// Place decides where the requests go on snap. It is pure: no I/O, no
// clock (now only dates the Explanations), no global state; ties are
// broken by a shuffle seeded from each request's instance id and version,
// so the same arguments always give the same Result.
//
// Requests are taken by priority (higher first), then created time, then
// instance id. Gangs (same non-zero Group, hint gang=true) are placed all
// or none, at the position of their first member; so are the members of
// a data group (same non-zero Group, Data.Group), whose blocks are split
// among them (group.go). Capacity is updated as
// requests are placed, so one call never overcommits a host. Every
// request not placed gets an Explanation.
func Place(snap *Snapshot, reqs []Request, now time.Time) Result {
	p := newPlacer(snap, reqs)
	units, dups := queue(reqs)
	for _, u := range units {
		switch {
		case u.single != nil:
			p.placeSingle(u.single, now)
		case u.data() != nil:
			p.placeGroup(u, now)
		default:
			p.placeGang(u, now)
		}
	}
	for _, r := range dups {
		p.unplaced(explanation(r, ReasonDuplicate, now))
	}
	return p.res
}

// placer is the state of one Place call.
type placer struct {
	snap    *Snapshot
	hosts   []Host     // snap.Hosts, read only
	added   []usage    // per host, what this call placed there
	index   *freeIndex // nil until a densePack request or a failure needs it
	scorers []Scorer
	limit   int // feasible hosts scored per decision; <0: all
	dense   bool

	labels  *labelIndex      // nil until a request has an affinity hint
	disks   map[string]int64 // persistent disk -> instance holding it
	byName  map[string]int32 // built on the first targetHost hint
	byID    map[int64]int32  // ditto, and for the label index
	cands   []int32          // feasible hosts of the current decision
	tally   tally            // the reasons sample counted, valid when tallied
	tallied bool             // sample saw every host in this decision

	locality  bool    // Policy.LocalityWeight >= 0: data steers placement
	credit    float64 // Policy.RackCredit, defaulted
	rackIndex *racks  // nil until a request has data
	resolved  map[*Data]*blockSet
	views     map[*Data]*dataView
	seen      []uint32 // per host: stamp of the last collectData that saw it
	stamp     uint32

	res Result
}

func newPlacer(snap *Snapshot, reqs []Request) *placer {
	p := &placer{snap: snap, hosts: snap.Hosts, added: make([]usage, len(snap.Hosts)),
		dense: snap.Policy.DensePack, scorers: policyScorers(snap.Policy), limit: snap.Policy.CandidateLimit,
		locality: snap.Policy.LocalityWeight >= 0, credit: rackCredit(snap.Policy)}
	if p.limit == 0 {
		p.limit = DefaultCandidateLimit
	}
	p.disks = disksInUse(snap, reqs)
	p.res.Placements = make([]Placement, 0, len(reqs))
	return p
}

// disksInUse maps the persistent disks of placed instances to their
// holders; it is built only when some request has a persistent disk.
func disksInUse(snap *Snapshot, reqs []Request) map[string]int64 {
	need := false
	for i := range reqs {
		need = need || len(reqs[i].PersistentDisks) > 0
	}
	if !need {
		return nil
	}
	m := map[string]int64{}
	for _, in := range snap.Instances {
		for _, d := range in.PersistentDisks {
			m[d] = in.ID
		}
	}
	return m
}

// placeSingle places one request that is not part of a gang.
func (p *placer) placeSingle(r *Request, now time.Time) {
	if why, detail := invalid(r); why != OK {
		e := explanation(r, why, now)
		e.Detail = detail
		p.unplaced(e)
		return
	}
	j := p.newJob(r)
	i := p.choose(&j)
	if i < 0 {
		p.unplaced(p.explain(&j, now))
		return
	}
	p.commit(&j, i)
	p.res.Placements = append(p.res.Placements, p.placement(&j, i, 0))
}

func (p *placer) placement(j *job, i int32, gang int64) Placement {
	pl := Placement{InstanceID: j.r.InstanceID, Version: j.r.Version,
		HostID: p.hosts[i].ID, Gang: gang, Score: j.score}
	if v := j.data; v != nil {
		pl.RequestedBytes, pl.LocalBytes, pl.RackBytes = v.total, v.local(i), v.rackOnly(i, p.racks())
	}
	return pl
}

func (p *placer) unplaced(e Explanation) { p.res.Unplaced = append(p.res.Unplaced, e) }
