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

// DefaultScorers are the scores Place uses when Policy.Scorers is nil:
// fit (densePack or spread, 0..100, weight 1) and soft affinity
// (-100..100, weight 2, so one soft anti-affinity neighbour costs as much
// as the whole fit range).
func DefaultScorers() []Scorer {
	return []Scorer{
		{Name: "fit", Weight: 1, Score: ScoreFit},
		{Name: "affinity", Weight: 2, Score: ScoreAffinity},
	}
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

func clamp(x, lo, hi float64) float64 { return min(hi, max(lo, x)) }
