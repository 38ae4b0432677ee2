package scheduler

// Candidate is what a Scorer sees: one feasible host for one request,
// with the usage that placements earlier in the same Place call added.
type Candidate struct {
	Host       *Host // as in the snapshot: Load1 and FreeMemory for load scores
	UsedCores  int   // including this call's earlier placements, not this request
	UsedMemory int
	Request    *Request
	DensePack  bool // the request's effective mode (hint, else Policy.DensePack)
	// Members of the request's scope already on this host that share its
	// soft affinity / soft anti-affinity label.
	Affine     int
	AntiAffine int
	// What this call's earlier placements added to the host (included in
	// UsedCores and UsedMemory, not in the heartbeat's Load1 and
	// FreeMemory): ScoreLoad counts them as busy.
	AddedCores  int
	AddedMemory int  // MiB
	LoadAware   bool // the request's effective loadAware (hint, else Policy.LoadAware)
	// The request's data seen from this host (ScoreLocality), all 0 when
	// it reads none: the bytes it reads (for a data group member, its own
	// share), those held on the host, and those held in the host's rack
	// but not on the host. RackCredit is what a rack-local byte is worth
	// against a node-local one, in 0..1 (Policy.RackCredit).
	RequestedBytes int64
	LocalBytes     int64
	RackBytes      int64
	RackCredit     float64
}

// Scorer ranks feasible hosts. Score must be a pure function of its
// argument (passed by value, so it cannot change what it scores) and stay within the range its documentation gives; Place adds
// up Weight*Score over the Policy's scorers and takes the highest total.
//
// This is the extension point for the locality and load scores of later
// issues: write a function of a Candidate (add the fields it needs to
// Candidate or Host, filled by the converter), give it a documented range,
// and append it to DefaultScorers or to Policy.Scorers.
type Scorer struct {
	Name   string
	Weight float64
	Score  func(c Candidate) float64
}

// Defaults of the Policy's locality and load settings.
const (
	DefaultLocalityWeight = 2    // full locality (200) outweighs the whole fit range (100)
	DefaultRackCredit     = 0.25 // a rack-local byte is worth a quarter of a node-local one
	DefaultLoadWeight     = 1
)

// DefaultScorers are the scores Place uses when Policy.Scorers is nil:
// fit (densePack or spread, 0..100, weight 1), soft affinity (-100..100,
// weight 2, so one soft anti-affinity neighbour costs as much as the
// whole fit range), locality (0..100, weight DefaultLocalityWeight; 0 for
// a request without data) and load (0..100, weight DefaultLoadWeight;
// 0 unless the request is load-aware). Place sets the locality and load
// weights from Policy.LocalityWeight and Policy.LoadWeight.
func DefaultScorers() []Scorer {
	return []Scorer{
		{Name: "fit", Weight: 1, Score: ScoreFit},
		{Name: "affinity", Weight: 2, Score: ScoreAffinity},
		{Name: "locality", Weight: DefaultLocalityWeight, Score: ScoreLocality},
		{Name: "load", Weight: DefaultLoadWeight, Score: ScoreLoadAware},
	}
}

// policyScorers are the scorers of a Place call: the policy's own list,
// else DefaultScorers with the policy's locality and load weights.
func policyScorers(pol Policy) []Scorer {
	if pol.Scorers != nil {
		return pol.Scorers
	}
	out := DefaultScorers()[:2]
	if w := pol.LocalityWeight; w >= 0 {
		out = append(out, Scorer{Name: "locality", Weight: cmpOr(w, DefaultLocalityWeight), Score: ScoreLocality})
	}
	return append(out, Scorer{Name: "load", Weight: cmpOr(pol.LoadWeight, DefaultLoadWeight), Score: ScoreLoadAware})
}

// rackCredit is the policy's RackCredit, defaulted and clamped to 0..1.
func rackCredit(pol Policy) float64 {
	switch {
	case pol.RackCredit < 0:
		return 0
	case pol.RackCredit == 0:
		return DefaultRackCredit
	}
	return min(1, pol.RackCredit)
}

func cmpOr(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// ScoreFit is ScoreDensePack or ScoreSpread, as the request asks. 0..100.
func ScoreFit(c Candidate) float64 {
	if c.DensePack {
		return ScoreDensePack(c)
	}
	return ScoreSpread(c)
}

// ScoreDensePack prefers fuller hosts: the mean of the host's core and
// memory utilisation once the request is on it, as a percentage. 0..100;
// 100 means the request fills the host exactly.
func ScoreDensePack(c Candidate) float64 {
	h := c.Host
	if h.Cores <= 0 || h.Memory <= 0 {
		return 0
	}
	cu := float64(c.UsedCores+c.Request.Cores) / float64(h.Cores)
	mu := float64(c.UsedMemory+c.Request.Memory) / float64(h.Memory)
	return clamp(50*(cu+mu), 0, 100)
}

// ScoreSpread prefers emptier hosts: 100 - ScoreDensePack. 0..100.
func ScoreSpread(c Candidate) float64 { return 100 - ScoreDensePack(c) }

// ScoreAffinity is the soft affinity bonus and soft anti-affinity
// penalty: +50 per member of the request's scope on the host sharing its
// soft affinity label, -50 per member sharing its soft anti-affinity
// label, clamped to -100..100. 0 without soft labels.
func ScoreAffinity(c Candidate) float64 {
	return clamp(50*float64(c.Affine-c.AntiAffine), -100, 100)
}

// ScoreLocality prefers hosts near the request's data: the percentage of
// the bytes it reads (its own share, for a member of a data group) held
// on the host, plus RackCredit times the percentage held in the host's
// rack but not on it. 0..100: 100 when every byte is node-local, 0
// without data. A group's members are placed by the assignment of
// group.go; this score ranks hosts for an ungrouped request and reports
// how well a member's share landed.
func ScoreLocality(c Candidate) float64 {
	if c.RequestedBytes <= 0 {
		return 0
	}
	credit := clamp(c.RackCredit, 0, 1)
	local := float64(max(0, c.LocalBytes)) + credit*float64(max(0, c.RackBytes))
	return clamp(100*local/float64(c.RequestedBytes), 0, 100)
}

// ScoreLoad prefers cooler hosts, from the last heartbeat: half is the
// idle share of the cores (1 - load per core, where the load is Load1
// plus the cores this call has just added, a load of one per core or
// more counting as none idle), half the share of the host's memory
// that is free (FreeMemory less the memory this call added, over Memory,
// capped at 1). 0..100; a host that reported no load and no free memory
// scores 50.
func ScoreLoad(c Candidate) float64 {
	h := c.Host
	if h.Cores <= 0 || h.Memory <= 0 {
		return 0
	}
	load := h.Load1
	if !(load > 0) { // also NaN
		load = 0
	}
	busy := clamp((load+float64(max(0, c.AddedCores)))/float64(h.Cores), 0, 1)
	free := clamp(float64(h.FreeMemory-max(0, c.AddedMemory))/float64(h.Memory), 0, 1)
	return 50*(1-busy) + 50*free
}

// ScoreLoadAware is ScoreLoad for a load-aware request (hint loadAware,
// else Policy.LoadAware) and 0 for the others. 0..100.
func ScoreLoadAware(c Candidate) float64 {
	if !c.LoadAware {
		return 0
	}
	return ScoreLoad(c)
}

func clamp(x, lo, hi float64) float64 { return min(hi, max(lo, x)) }
