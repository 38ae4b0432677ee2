package simvmm

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Call answers the simulated vmmSpecificCalls.
func (s *Sim) Call(ctx context.Context, id int64, arg string) (string, error) {
	g, ok := s.live(id)
	if !ok {
		return "", vmm.ErrNoSuchGuest{InstanceID: id}
	}
	switch arg {
	case "info":
		inf, _ := s.Info(ctx, id)
		return fmt.Sprintf("simulated guest %s: %s, %d cores, %d MiB", inf.VMID, inf.State, g.spec.Cores, g.spec.MemoryMiB), nil
	case "startVnc", "startConsole":
		return "127.0.0.1:0 (simulated: nothing listens)", nil
	case "stopVnc", "reset":
		return "done (simulated)", nil
	}
	if iso, ok := strings.CutPrefix(arg, "changeCdrom:"); ok && iso != "" {
		return "done (simulated)", nil
	}
	return "", fmt.Errorf("unknown vmmSpecificCall %q: accepted are info, startVnc, stopVnc, reset, changeCdrom:ISO, startConsole", arg)
}

// Info reports one guest; a guest that exited is reported as Exited with
// its reason until it is started again or destroyed.
func (s *Sim) Info(ctx context.Context, id int64) (vmm.Info, error) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	if g := s.t.guests[id]; g != nil {
		return g.info(s.cfg.Accel), nil
	}
	if inf, ok := s.t.tombs[id]; ok {
		return inf, nil
	}
	return vmm.Info{}, vmm.ErrNoSuchGuest{InstanceID: id}
}

// List reports the guests that run, in instance id order.
func (s *Sim) List(ctx context.Context) ([]vmm.Info, error) {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	out := make([]vmm.Info, 0, len(s.t.guests))
	for _, g := range s.t.guests {
		out = append(out, g.info(s.cfg.Accel))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceID < out[j].InstanceID })
	return out, nil
}

// Recover returns the guests the table of this RunDir still holds.
func (s *Sim) Recover(ctx context.Context) ([]vmm.Info, error) {
	return s.List(ctx)
}

// Starts returns how many times Start made a guest for each instance on
// this table (restarts included): a double activation shows as 2.
func (s *Sim) Starts() map[int64]int {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	out := make(map[int64]int, len(s.t.starts))
	for id, n := range s.t.starts {
		out[id] = n
	}
	return out
}
