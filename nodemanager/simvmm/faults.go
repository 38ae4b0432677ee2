package simvmm

import (
	"sync"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// op names an operation a fault knob can make fail.
type op string

const (
	opStart   op = "start"
	opSuspend op = "suspend"
	opResume  op = "resume"
	opMigrate op = "migrate"
)

// fault is one armed knob: the next calls of op for an instance fail.
type fault struct {
	id int64
	op op
}

// Forever, as a count of failures, arms a knob until ClearFaults.
const Forever = -1

// FailStart makes the next times Starts of instance id fail with
// ErrInjected (after their latency); Forever fails all of them.
func (s *Sim) FailStart(id int64, times int) { s.t.arm(fault{id, opStart}, times) }

// FailStartInGroup makes the next times Starts of instance id fail on
// whichever Sim of the group (Config.Group) they happen: where a
// scheduler puts an instance is not known in advance. Forever fails all
// of them, until ClearGroupFaults.
func FailStartInGroup(group string, id int64, times int) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	k := groupFault{group, id}
	if times == 0 {
		delete(groups.starts, k)
		return
	}
	groups.starts[k] = times
}

// ClearGroupFaults disarms every FailStartInGroup knob of group.
func ClearGroupFaults(group string) {
	groups.mu.Lock()
	defer groups.mu.Unlock()
	for k := range groups.starts {
		if k.group == group {
			delete(groups.starts, k)
		}
	}
}

type groupFault struct {
	group string
	id    int64
}

// groups holds the knobs shared by the Sims of a group.
var groups = struct {
	mu     sync.Mutex
	starts map[groupFault]int
}{starts: map[groupFault]int{}}

// takeGroup consumes one group-wide Start failure of id, if armed.
func takeGroup(group string, id int64) bool {
	if group == "" {
		return false
	}
	groups.mu.Lock()
	defer groups.mu.Unlock()
	k := groupFault{group, id}
	n, ok := groups.starts[k]
	switch {
	case !ok:
		return false
	case n == Forever:
	case n <= 1:
		delete(groups.starts, k)
	default:
		groups.starts[k] = n - 1
	}
	return true
}

// FailSuspend makes the next times Suspends of instance id fail; the
// guest keeps running.
func (s *Sim) FailSuspend(id int64, times int) { s.t.arm(fault{id, opSuspend}, times) }

// FailResume makes the next times Resumes of instance id fail; the guest
// stays waiting for its state.
func (s *Sim) FailResume(id int64, times int) { s.t.arm(fault{id, opResume}, times) }

// FailMigrate makes the next times outgoing migrations of instance id
// fail; the guest keeps running on the source.
func (s *Sim) FailMigrate(id int64, times int) { s.t.arm(fault{id, opMigrate}, times) }

// ClearFaults disarms every knob of this Sim's table.
func (s *Sim) ClearFaults() {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	clear(s.t.faults)
}

// Crash ends a guest by itself (as a QEMU crash or a guest power-off
// would): it exits with reason "crashed: <why>" and an Exited event is
// sent. It reports whether the guest was running.
func (s *Sim) Crash(id int64, why string) bool {
	return s.t.exit(id, nil, "crashed: "+why)
}

// PowerOff ends a guest as if it had powered itself off ("shutdown").
func (s *Sim) PowerOff(id int64) bool {
	return s.t.exit(id, nil, "shutdown")
}

// SetState changes a running guest's state by itself (for instance
// Paused, as a guest stopped on an I/O error) and sends the event.
func (s *Sim) SetState(id int64, st vmm.State) bool {
	s.t.mu.Lock()
	g := s.t.guests[id]
	if g == nil || st == vmm.StateExited {
		s.t.mu.Unlock()
		return false
	}
	g.state = st
	s.t.mu.Unlock()
	s.t.emit(vmm.Event{InstanceID: id, State: st, Reason: "changed by itself (simulated)"})
	return true
}

func (t *table) arm(f fault, times int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if times == 0 {
		delete(t.faults, f)
		return
	}
	t.faults[f] = times
}

// take consumes one failure of f, if armed. The caller holds t.mu.
func (t *table) take(f fault) bool {
	n, ok := t.faults[f]
	if !ok {
		return false
	}
	switch {
	case n == Forever:
	case n <= 1:
		delete(t.faults, f)
	default:
		t.faults[f] = n - 1
	}
	return true
}
