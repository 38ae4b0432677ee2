package api

import (
	"sort"
	"strings"
)

// InstanceState is one of Tashi's VM states.
type InstanceState string

const (
	Pending      InstanceState = "Pending"
	Activating   InstanceState = "Activating"
	Running      InstanceState = "Running"
	Pausing      InstanceState = "Pausing"
	Paused       InstanceState = "Paused"
	Unpausing    InstanceState = "Unpausing"
	Suspending   InstanceState = "Suspending"
	Suspended    InstanceState = "Suspended"
	Resuming     InstanceState = "Resuming"
	MigratePrep  InstanceState = "MigratePrep"
	MigrateTrans InstanceState = "MigrateTrans"
	ShuttingDown InstanceState = "ShuttingDown"
	Destroying   InstanceState = "Destroying"
	Orphaned     InstanceState = "Orphaned"
	Held         InstanceState = "Held"
	Exited       InstanceState = "Exited"
)

// InstanceStates lists every instance state in Tashi's order.
var InstanceStates = []InstanceState{Pending, Activating, Running, Pausing, Paused,
	Unpausing, Suspending, Suspended, Resuming, MigratePrep, MigrateTrans,
	ShuttingDown, Destroying, Orphaned, Held, Exited}

// Event is something that asks an instance to change state: a user's
// request, an agent's decision, or a node manager's report.
type Event string

const (
	// Requests from users (and admins).
	EvShutdown Event = "shutdown"
	EvDestroy  Event = "destroy"
	EvSuspend  Event = "suspend"
	EvResume   Event = "resume"
	EvPause    Event = "pause"
	EvUnpause  Event = "unpause"
	EvMigrate  Event = "migrate"

	// Decisions of agents.
	EvActivate   Event = "activate"   // a plan placed a fresh instance
	EvResumeOn   Event = "resumeOn"   // a plan placed a suspended instance
	EvRelease    Event = "release"    // a held instance may be placed again
	EvMigrateGo  Event = "migrateGo"  // the target is ready, memory moves
	EvOpFailed   Event = "opFailed"   // the node manager could not do it
	EvOpFinished Event = "opFinished" // the node manager did it
	EvPausedDone Event = "pausedDone" // it did, and the guest is paused (suspended while paused)

	// Reports of node managers.
	EvExited Event = "exited"
)

// transitions is the one table of legal instance state changes.
var transitions = map[InstanceState]map[Event]InstanceState{
	Pending: {EvActivate: Activating, EvResumeOn: Resuming, EvDestroy: Exited,
		EvShutdown: Exited},
	Activating: {EvOpFinished: Running, EvOpFailed: Held, EvDestroy: Destroying,
		EvExited: Held},
	Running: {EvPause: Pausing, EvSuspend: Suspending, EvMigrate: MigratePrep,
		EvShutdown: ShuttingDown, EvDestroy: Destroying, EvExited: Exited},
	Pausing: {EvOpFinished: Paused, EvOpFailed: Running, EvDestroy: Destroying,
		EvExited: Exited},
	Paused: {EvUnpause: Unpausing, EvSuspend: Suspending, EvShutdown: ShuttingDown,
		EvDestroy: Destroying, EvExited: Exited},
	Unpausing: {EvOpFinished: Running, EvOpFailed: Paused, EvDestroy: Destroying,
		EvExited: Exited},
	Suspending: {EvOpFinished: Suspended, EvOpFailed: Running, EvDestroy: Destroying,
		EvExited: Suspended},
	Suspended: {EvResume: Pending, EvDestroy: Exited},
	Resuming: {EvOpFinished: Running, EvPausedDone: Paused, EvOpFailed: Held, EvDestroy: Destroying,
		EvExited: Held},
	MigratePrep: {EvMigrateGo: MigrateTrans, EvOpFailed: Running, EvDestroy: Destroying,
		EvExited: Exited},
	MigrateTrans: {EvOpFinished: Running, EvOpFailed: Running, EvDestroy: Destroying},
	ShuttingDown: {EvExited: Exited, EvOpFinished: Exited, EvDestroy: Destroying,
		EvOpFailed: Running},
	Destroying: {EvExited: Exited, EvOpFinished: Exited, EvDestroy: Destroying},
	Orphaned:   {EvDestroy: Destroying, EvExited: Exited, EvOpFinished: Running},
	Held:       {EvRelease: Pending, EvDestroy: Exited, EvShutdown: Exited},
	Exited:     {},
}

// Transition returns the state an instance in state from goes to on ev,
// or an *Error naming the current state and the events allowed from it.
func Transition(from InstanceState, ev Event) (InstanceState, error) {
	row, ok := transitions[from]
	if !ok {
		return "", Errorf(CodeBadState, "state", "unknown instance state %q", from)
	}
	to, ok := row[ev]
	if !ok {
		return "", Errorf(CodeIllegalTransition, "state",
			"cannot %s an instance that is %s; allowed from %s: %s",
			ev, from, from, strings.Join(Allowed(from, UserRequests[ev]), ", "))
	}
	return to, nil
}

// UserRequests are the events users ask for; the others come from agents
// and node managers.
var UserRequests = map[Event]bool{EvShutdown: true, EvDestroy: true, EvSuspend: true,
	EvResume: true, EvPause: true, EvUnpause: true, EvMigrate: true}

// Allowed lists, sorted, the events accepted in state s; with onlyUser,
// only the requests a user may make.
func Allowed(s InstanceState, onlyUser bool) []string {
	var out []string
	for ev := range transitions[s] {
		if !onlyUser || UserRequests[ev] {
			out = append(out, string(ev))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = []string{"nothing"}
	}
	return out
}

// Reconcile maps a state a node manager reports onto the recorded state,
// through the same table: a report of Exited is the exited event; a report
// of Running or Paused finishes a transition only where finishing it leads
// to that state. It returns the new state and whether it changed. Reports
// that make no sense for the recorded state leave it alone: the agent that
// owns the transition finishes or fails it.
func Reconcile(recorded, reported InstanceState) (InstanceState, bool) {
	if recorded == reported || (recorded == MigrateTrans && reported == Exited) {
		return recorded, false // during a migration the target's report decides
	}
	ev := EvOpFinished
	if reported == Exited {
		ev = EvExited
	}
	to, err := Transition(recorded, ev)
	if err != nil || (reported != Exited && to != reported) {
		return recorded, false
	}
	return to, true
}

// ParseInstanceState accepts a state name in any case.
func ParseInstanceState(s string) (InstanceState, error) {
	for _, st := range InstanceStates {
		if strings.EqualFold(string(st), s) {
			return st, nil
		}
	}
	return "", Errorf(CodeBadState, "state", "unknown instance state %q; accepted: %s",
		s, joinStates(InstanceStates))
}

func joinStates(ss []InstanceState) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// HostState is Tashi's host state.
type HostState string

const (
	HostNormal          HostState = "Normal"
	HostDrained         HostState = "Drained"
	HostVersionMismatch HostState = "VersionMismatch"
)

// HostEvent asks a host to change state.
type HostEvent string

const (
	HostEvNormal       HostEvent = "normal"       // admin: accept new VMs
	HostEvDrain        HostEvent = "drain"        // admin: accept no new VMs
	HostEvVersionBad   HostEvent = "versionBad"   // NM registered with another version
	HostEvVersionFixed HostEvent = "versionFixed" // NM registered with our version
)

var hostTransitions = map[HostState]map[HostEvent]HostState{
	HostNormal: {HostEvNormal: HostNormal, HostEvDrain: HostDrained,
		HostEvVersionBad: HostVersionMismatch, HostEvVersionFixed: HostNormal},
	HostDrained: {HostEvNormal: HostNormal, HostEvDrain: HostDrained,
		HostEvVersionBad: HostVersionMismatch, HostEvVersionFixed: HostDrained},
	HostVersionMismatch: {HostEvDrain: HostDrained, HostEvVersionBad: HostVersionMismatch,
		HostEvVersionFixed: HostNormal},
}

// HostTransition is the host state table's one function.
func HostTransition(from HostState, ev HostEvent) (HostState, error) {
	to, ok := hostTransitions[from][ev]
	if !ok {
		return "", Errorf(CodeIllegalTransition, "state",
			"host is %s: %s is not allowed (start a node manager of the CM's version first)",
			from, ev)
	}
	return to, nil
}

// ParseHostState accepts the states an admin may set: Normal or Drained.
func ParseHostState(s string) (HostEvent, error) {
	switch strings.ToLower(s) {
	case "normal":
		return HostEvNormal, nil
	case "drained", "drain":
		return HostEvDrain, nil
	}
	return "", Errorf(CodeInvalid, "state", "%q is not a valid host state; accepted: Normal, Drained", s)
}
