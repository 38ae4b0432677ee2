package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fixture builders: hostN("h1", 8, 16384, used(2, 4096)), reqN(101, 2,
// 4096, hints("antiAffinity=web"), group(7)), inst(1, 1, ...).

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type hostOpt func(*Host)

// hostN is an up, Normal host; its id is the number in its name.
func hostN(name string, cores, memory int, opts ...hostOpt) Host {
	var id int64
	fmt.Sscanf(strings.TrimLeft(name, "abcdefghijklmnopqrstuvwxyz"), "%d", &id)
	h := Host{ID: id, Name: name, Up: true, State: HostNormal, Cores: cores, Memory: memory}
	for _, o := range opts {
		o(&h)
	}
	return h
}

func down(h *Host)     { h.Up = false }
func drained(h *Host)  { h.State = HostDrained }
func mismatch(h *Host) { h.State = HostVersionMismatch }
func used(cores, memory int) hostOpt {
	return func(h *Host) { h.UsedCores, h.UsedMemory = cores, memory }
}
func reservedFor(users ...int64) hostOpt { return func(h *Host) { h.ReservedFor = users } }

type reqOpt func(*Request)

// reqN asks for cores and memory for instance id, version 1, user 1.
func reqN(id int64, cores, memory int, opts ...reqOpt) Request {
	r := Request{InstanceID: id, Version: 1, User: 1, Cores: cores, Memory: memory,
		Created: t0.Add(time.Duration(id) * time.Millisecond)}
	for _, o := range opts {
		o(&r)
	}
	return r
}

// hints parses "k=v" pairs as the converter would, priority included.
func hints(kv ...string) reqOpt {
	return func(r *Request) {
		m := map[string]string{}
		for _, s := range kv {
			k, v, _ := strings.Cut(s, "=")
			m[k] = v
		}
		r.Hints, r.Priority, _ = ParseHints(m) // an error is kept in Hints.Invalid
	}
}
func group(g int64) reqOpt         { return func(r *Request) { r.Group = g } }
func user(u int64) reqOpt          { return func(r *Request) { r.User = u } }
func prio(p int) reqOpt            { return func(r *Request) { r.Priority = p } }
func created(at time.Time) reqOpt  { return func(r *Request) { r.Created = at } }
func disks(names ...string) reqOpt { return func(r *Request) { r.PersistentDisks = names } }
func version(v int64) reqOpt       { return func(r *Request) { r.Version = v } }
func gangOf(g int64, n int, first int64, cores, memory int, extra ...string) []Request {
	var out []Request
	for k := range n {
		out = append(out, reqN(first+int64(k), cores, memory, group(g), hints(append([]string{"gang=true"}, extra...)...)))
	}
	return out
}

type instOpt func(*Instance)

// inst is instance id already running on host.
func inst(id, host int64, opts ...instOpt) Instance {
	in := Instance{ID: id, Host: host, User: 1}
	for _, o := range opts {
		o(&in)
	}
	return in
}
func inGroup(g int64) instOpt         { return func(in *Instance) { in.Group = g } }
func anti(l Label) instOpt            { return func(in *Instance) { in.AntiAffinity = l } }
func aff(l Label) instOpt             { return func(in *Instance) { in.Affinity = l } }
func holding(names ...string) instOpt { return func(in *Instance) { in.PersistentDisks = names } }

func cluster(hosts ...Host) *Snapshot { return &Snapshot{Hosts: hosts} }

// layoutRow is one line of Tashi's getVmLayout: a host and its instances.
type layoutRow struct {
	Host      string
	Instances []int64
}

func (r layoutRow) String() string {
	ids := make([]string, len(r.Instances))
	for i, id := range r.Instances {
		ids[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("%-4s %s", r.Host, strings.Join(ids, " "))
}

// layout is getVmLayout after res: every host, in snapshot order, with
// the instances already on it and those res placed there, sorted.
func layout(s *Snapshot, res Result) []layoutRow {
	on := map[int64][]int64{}
	for _, in := range s.Instances {
		on[in.Host] = append(on[in.Host], in.ID)
	}
	for _, p := range res.Placements {
		on[p.HostID] = append(on[p.HostID], p.InstanceID)
	}
	rows := make([]layoutRow, len(s.Hosts))
	for i, h := range s.Hosts {
		ids := on[h.ID]
		slices.Sort(ids)
		rows[i] = layoutRow{Host: h.Name, Instances: ids}
	}
	return rows
}

func layoutText(rows []layoutRow) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

// hostOfPlacement returns where res put id, or 0.
func hostOfPlacement(res Result, id int64) int64 {
	for _, p := range res.Placements {
		if p.InstanceID == id {
			return p.HostID
		}
	}
	return 0
}

func explanationFor(t *testing.T, res Result, id int64) Explanation {
	t.Helper()
	for _, e := range res.Unplaced {
		if e.InstanceID == id {
			return e
		}
	}
	t.Fatalf("instance %d has no explanation; placements %v", id, res.Placements)
	return Explanation{}
}
