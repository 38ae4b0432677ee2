package telemetry

import "fmt"

// tier is how far apart two hosts are on the network.
type tier int

const (
	tierHost   tier = iota // the same host
	tierSwitch             // the same switch
	tierCore               // different switches, through the core
)

// pair is what the network metrics know about two hosts.
type pair struct {
	tier   tier
	sameFD bool
	note   string
}

// pairOf places two hosts. A host with no topology entry gets the least
// favourable answer for every metric: through the core, same fault domain.
func (v View) pairOf(a, b string) pair {
	if a == b {
		return pair{tier: tierHost, sameFD: true}
	}
	la, okA := v.Topology.Locate(a)
	lb, okB := v.Topology.Locate(b)
	if !okA || !okB {
		missing := a
		if okA {
			missing = b
		}
		return pair{tier: tierCore, sameFD: true,
			note: fmt.Sprintf("host %s is not in the topology; assumed the least favourable value", missing)}
	}
	p := pair{tier: tierCore, sameFD: la.FaultDomain == lb.FaultDomain}
	if la.Switch == lb.Switch {
		p.tier = tierSwitch
	}
	return p
}

func (v View) network(from, to string, t Type) Value {
	p := v.pairOf(from, to)
	m := v.links()
	var out Value
	switch t {
	case Latency:
		out = Value{Value: pick(p.tier, m.LatencyHostMs, m.LatencySwitchMs, m.LatencyCoreMs), Unit: "ms"}
	case Bandwidth:
		out = Value{Value: pick(p.tier, m.MemoryMBps, m.NICMBps, m.NICMBps/m.Oversubscription), Unit: "MB/s"}
	case SwitchCount:
		out = Value{Value: pick(p.tier, 0, 1, 3), Unit: "switches"}
	case FaultDomain:
		out = Value{Value: 1, Unit: "different (0/1)"}
		if p.sameFD {
			out.Value = 0
		}
	}
	out.Note = p.note
	return out
}

func pick(t tier, host, sw, core float64) float64 {
	switch t {
	case tierHost:
		return host
	case tierSwitch:
		return sw
	}
	return core
}

// load is the to host's one-minute load per CPU.
func (v View) load(host string) (Value, error) {
	s, ok := v.Stats[host]
	switch {
	case !ok && !v.known(host):
		return Value{}, fmt.Errorf("load of %w %q: in neither the topology nor the host stats", ErrUnknownHost, host)
	case !ok:
		return Value{}, fmt.Errorf("load of host %q: %w", host, ErrNoStats)
	case s.CPUs <= 0:
		return Value{}, fmt.Errorf("load of host %q: %w: its stats give no CPU count", host, ErrNoStats)
	}
	parts := []Part{{"load1", s.Load1, "load"}, {"cpus", float64(s.CPUs), "CPUs"},
		{"freeMemory", float64(s.FreeMemoryMiB), "MiB"}}
	if s.TotalMemoryMiB > 0 {
		parts = append(parts, Part{"totalMemory", float64(s.TotalMemoryMiB), "MiB"})
	}
	return Value{Value: s.Load1 / float64(s.CPUs), Unit: "load/CPU", Parts: parts}, nil
}
