package api

import (
	"strings"
	"testing"
)

func TestTransitionTable(t *testing.T) {
	tests := []struct {
		from InstanceState
		ev   Event
		to   InstanceState
	}{
		{Pending, EvActivate, Activating},
		{Pending, EvResumeOn, Resuming},
		{Pending, EvDestroy, Exited},
		{Activating, EvOpFinished, Running},
		{Activating, EvOpFailed, Held},
		{Running, EvPause, Pausing},
		{Pausing, EvOpFinished, Paused},
		{Paused, EvUnpause, Unpausing},
		{Unpausing, EvOpFinished, Running},
		{Running, EvSuspend, Suspending},
		{Suspending, EvOpFinished, Suspended},
		{Suspended, EvResume, Pending},
		{Resuming, EvOpFinished, Running},
		{Resuming, EvPausedDone, Paused},
		{Running, EvMigrate, MigratePrep},
		{MigratePrep, EvMigrateGo, MigrateTrans},
		{MigrateTrans, EvOpFinished, Running},
		{Running, EvShutdown, ShuttingDown},
		{ShuttingDown, EvExited, Exited},
		{Running, EvDestroy, Destroying},
		{Destroying, EvOpFinished, Exited},
		{Held, EvRelease, Pending},
		{Orphaned, EvOpFinished, Running},
	}
	for _, tt := range tests {
		got, err := Transition(tt.from, tt.ev)
		if err != nil || got != tt.to {
			t.Errorf("Transition(%s, %s) = %s, %v; want %s", tt.from, tt.ev, got, err, tt.to)
		}
	}
}

func TestIllegalTransitionNamesStateAndAllowed(t *testing.T) {
	tests := []struct {
		from InstanceState
		ev   Event
		want []string
	}{
		{Pending, EvPause, []string{"pause", "Pending", "destroy, shutdown"}},
		{Pending, EvOpFinished, []string{"activate", "destroy"}},
		{Paused, EvPause, []string{"Paused", "unpause"}},
		{Exited, EvDestroy, []string{"Exited", "nothing"}},
		{Suspended, EvMigrate, []string{"Suspended", "resume"}},
	}
	for _, tt := range tests {
		_, err := Transition(tt.from, tt.ev)
		if !IsCode(err, CodeIllegalTransition) {
			t.Fatalf("Transition(%s, %s): got %v, want an illegal_transition error", tt.from, tt.ev, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Transition(%s, %s) error %q does not mention %q", tt.from, tt.ev, err, w)
			}
		}
	}
}

// Every state is in the table and every target is a known state.
func TestTableIsClosed(t *testing.T) {
	known := map[InstanceState]bool{}
	for _, s := range InstanceStates {
		known[s] = true
		if _, ok := transitions[s]; !ok {
			t.Errorf("state %s has no row", s)
		}
	}
	for from, row := range transitions {
		for ev, to := range row {
			if !known[to] {
				t.Errorf("%s --%s--> unknown state %s", from, ev, to)
			}
		}
	}
}

func TestReconcile(t *testing.T) {
	tests := []struct {
		rec, rep, want InstanceState
		changed        bool
	}{
		{Activating, Running, Running, true},
		{Running, Running, Running, false},
		{Running, Exited, Exited, true},
		{Suspending, Exited, Suspended, true},
		{MigrateTrans, Exited, MigrateTrans, false},
		{Activating, Exited, Held, true},
		{Pausing, Paused, Paused, true},
		{Pending, Running, Pending, false},
		{Paused, Running, Paused, false},
	}
	for _, tt := range tests {
		got, ch := Reconcile(tt.rec, tt.rep)
		if got != tt.want || ch != tt.changed {
			t.Errorf("Reconcile(%s, %s) = %s, %v; want %s, %v", tt.rec, tt.rep, got, ch, tt.want, tt.changed)
		}
	}
}

func TestHostTransitions(t *testing.T) {
	tests := []struct {
		from HostState
		ev   HostEvent
		to   HostState
		ok   bool
	}{
		{HostNormal, HostEvDrain, HostDrained, true},
		{HostDrained, HostEvNormal, HostNormal, true},
		{HostNormal, HostEvVersionBad, HostVersionMismatch, true},
		{HostVersionMismatch, HostEvVersionFixed, HostNormal, true},
		{HostDrained, HostEvVersionFixed, HostDrained, true},
		{HostVersionMismatch, HostEvNormal, "", false},
	}
	for _, tt := range tests {
		got, err := HostTransition(tt.from, tt.ev)
		if (err == nil) != tt.ok || got != tt.to {
			t.Errorf("HostTransition(%s, %s) = %s, %v; want %s ok=%v", tt.from, tt.ev, got, err, tt.to, tt.ok)
		}
	}
	if _, err := ParseHostState("Broken"); err == nil || !strings.Contains(err.Error(), "Normal, Drained") {
		t.Errorf("ParseHostState(Broken) = %v; want an error listing Normal, Drained", err)
	}
}
