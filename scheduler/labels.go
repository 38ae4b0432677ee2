package scheduler

// Affinity and anti-affinity act within a scope: the instance's group
// (createMany), or, for an instance in no group, its user's ungrouped
// instances. Within a scope, instances whose affinity (or anti-affinity)
// hints carry the same label are members of that label, whether the hint
// is hard or soft. Hard anti-affinity is kept both ways: a hard member
// goes to no host with a member, and no member goes to a host with a
// hard one.

// members counts, per host (index in Snapshot.Hosts), the members of one
// label there.
type members map[int32]int32

// label is one label's members: all of them, and the hard ones.
type label struct {
	all, hard members
}

type labelKey struct {
	anti  bool
	group int64
	user  int64 // only for group 0
	name  string
}

func labelKeyOf(anti bool, group, user int64, name string) labelKey {
	if group != 0 {
		user = 0
	}
	return labelKey{anti: anti, group: group, user: user, name: name}
}

// labelIndex holds the members of every label, built from the snapshot's
// instances on first use and kept up to date as the call places requests.
type labelIndex struct {
	m map[labelKey]*label
}

func (p *placer) labelIndex() *labelIndex {
	if p.labels != nil {
		return p.labels
	}
	p.labels = &labelIndex{m: map[labelKey]*label{}}
	for _, in := range p.snap.Instances {
		if in.Affinity.Name == "" && in.AntiAffinity.Name == "" {
			continue
		}
		i, ok := p.hostIndex(in.Host)
		if !ok {
			continue
		}
		p.labels.add(in.Group, in.User, in.Affinity, in.AntiAffinity, i, 1)
	}
	return p.labels
}

// get returns the members of k, creating the entry so that later
// placements in this call show up in the job's view.
func (x *labelIndex) get(k labelKey) *label {
	l, ok := x.m[k]
	if !ok {
		l = &label{all: members{}, hard: members{}}
		x.m[k] = l
	}
	return l
}

func (x *labelIndex) add(group, user int64, aff, anti Label, i int32, delta int32) {
	if aff.Name != "" {
		x.get(labelKeyOf(false, group, user, aff.Name)).add(aff.Soft, i, delta)
	}
	if anti.Name != "" {
		x.get(labelKeyOf(true, group, user, anti.Name)).add(anti.Soft, i, delta)
	}
}

func (l *label) add(soft bool, i, delta int32) {
	bump(l.all, i, delta)
	if !soft {
		bump(l.hard, i, delta)
	}
}

func bump(m members, i, delta int32) {
	if m[i] += delta; m[i] <= 0 {
		delete(m, i)
	}
}
