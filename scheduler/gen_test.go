package scheduler

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// gen builds random clusters and request streams from a seed, for the
// property and determinism tests.
type gen struct{ rng *rand.Rand }

func newGen(seed uint64) gen { return gen{rand.New(rand.NewPCG(seed, 0x7a5b1))} }

func (g gen) pct(p int) bool { return g.rng.IntN(100) < p }

func (g gen) pick(ss ...string) string { return ss[g.rng.IntN(len(ss))] }

// snapshot makes 1..40 hosts, some down, drained, mismatched or reserved,
// some partly used, and instances on them with groups, labels and disks.
func (g gen) snapshot() *Snapshot {
	s := &Snapshot{}
	for k := range 1 + g.rng.IntN(40) {
		cores := []int{2, 4, 8, 16, 32}[g.rng.IntN(5)]
		h := hostN(fmt.Sprintf("h%d", k+1), cores, cores*(1024+g.rng.IntN(3)*1024))
		h.UsedCores, h.UsedMemory = g.rng.IntN(cores+1), g.rng.IntN(h.Memory+1)
		switch {
		case g.pct(8):
			h.Up = false
		case g.pct(5):
			h.State = HostDrained
		case g.pct(5):
			h.State = HostVersionMismatch
		}
		if g.pct(10) {
			h.ReservedFor = []int64{int64(1 + g.rng.IntN(3))}
		}
		s.Hosts = append(s.Hosts, h)
	}
	for k := range g.rng.IntN(30) {
		in := inst(int64(k+1), s.Hosts[g.rng.IntN(len(s.Hosts))].ID,
			inGroup(int64(g.rng.IntN(4))), anti(g.label()), aff(g.label()))
		in.User = int64(1 + g.rng.IntN(3))
		if g.pct(20) {
			in.PersistentDisks = []string{fmt.Sprintf("d%d.qcow2", k)} // unique per instance
		}
		s.Instances = append(s.Instances, in)
	}
	s.Policy = Policy{DensePack: g.pct(50), CandidateLimit: []int{0, 0, 1, 3, -1}[g.rng.IntN(5)]}
	return s
}

func (g gen) label() Label {
	if !g.pct(30) {
		return Label{}
	}
	return Label{Name: g.pick("web", "db"), Soft: g.pct(40)}
}

// requests makes 0..80 requests with every kind of hint, for the hosts of s.
func (g gen) requests(s *Snapshot) []Request {
	var out []Request
	for k := range g.rng.IntN(81) {
		r := Request{InstanceID: int64(1000 + k), Version: int64(1 + g.rng.IntN(3)),
			User: int64(1 + g.rng.IntN(3)), Cores: 1 + g.rng.IntN(8), Memory: 256 * (1 + g.rng.IntN(24)),
			Group: int64(g.rng.IntN(4)), Priority: g.rng.IntN(3) - 1,
			Created: t0.Add(time.Duration(g.rng.IntN(100)) * time.Second)}
		m := map[string]string{}
		if g.pct(10) {
			h := s.Hosts[g.rng.IntN(len(s.Hosts))]
			m[HintTargetHost] = g.pick(h.Name, fmt.Sprint(h.ID), "nosuch")
			if g.pct(50) {
				m[HintAllowElsewhere] = "true"
			}
		}
		if g.pct(30) {
			m[HintDensePack] = g.pick("true", "false")
		}
		if l := g.label(); l.Name != "" {
			m[HintAntiAffinity] = l.Name + map[bool]string{true: ":soft", false: ""}[l.Soft]
		}
		if l := g.label(); l.Name != "" && g.pct(50) {
			m[HintAffinity] = l.Name + map[bool]string{true: ":soft", false: ""}[l.Soft]
		}
		if r.Group != 0 && g.pct(40) {
			m[HintGang] = "true"
		}
		if g.pct(2) {
			m[HintGang] = "perhaps"
		}
		if g.pct(10) {
			r.PersistentDisks = []string{fmt.Sprintf("d%d.qcow2", g.rng.IntN(40))}
		}
		r.Hints, _, _ = ParseHints(m)
		out = append(out, r)
	}
	if len(out) > 0 && g.pct(10) {
		out = append(out, out[g.rng.IntN(len(out))]) // a duplicate
	}
	return out
}
