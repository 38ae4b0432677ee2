package simvmm

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// stateFile is what a simulated suspend writes: enough for Resume to
// check that the file is this instance's and to restore its run state.
type stateFile struct {
	Simulated  bool   `json:"simulated"`
	InstanceID int64  `json:"instanceId"`
	Name       string `json:"name"`
	Paused     bool   `json:"paused"`
	Cores      int    `json:"cores"`
	MemoryMiB  int    `json:"memoryMiB"`
	// Disks identify the disk files at suspend time (with CheckDisks):
	// a resume on other files would lose the guest's writes.
	Disks []diskID `json:"disks,omitempty"`
}

// Suspend writes the guest's (simulated) state to file, gzip-compressed
// if the name ends in .gz, and ends the guest.
func (s *Sim) Suspend(ctx context.Context, id int64, file string) (vmm.MigrationStats, error) {
	begin := time.Now()
	g, prev, injected, err := s.t.beginOutgoing(id, opSuspend)
	if err != nil {
		return vmm.MigrationStats{}, fmt.Errorf("suspend instance %d: %w", id, err)
	}
	fail := func(err error) (vmm.MigrationStats, error) {
		s.t.restore(id, g, prev)
		return vmm.MigrationStats{}, fmt.Errorf("suspend instance %d to %s: %w", id, file, err)
	}
	if err := sleep(ctx, s.lat.Suspend); err != nil {
		return fail(err)
	}
	if injected {
		return fail(ErrInjected)
	}
	if err := s.checkDisks(g); err != nil {
		return fail(err)
	}
	st := stateFile{Simulated: true, InstanceID: id, Name: g.spec.Name, Paused: prev == vmm.StatePaused,
		Cores: g.spec.Cores, MemoryMiB: g.spec.MemoryMiB, Disks: g.disks}
	n, err := writeState(file, st)
	if err != nil {
		return fail(err)
	}
	if !s.t.exit(id, g, "suspended") {
		return vmm.MigrationStats{}, fmt.Errorf("suspend instance %d: %w: the guest ended while saving", id, ErrBadState)
	}
	took := time.Since(begin)
	return vmm.MigrationStats{Total: took, Downtime: took, Bytes: n}, nil
}

// Resume loads the state file into a guest started with Incoming and runs
// it (paused if it was paused when suspended).
func (s *Sim) Resume(ctx context.Context, id int64, file string) (vmm.MigrationStats, error) {
	begin := time.Now()
	t := s.t
	t.mu.Lock()
	g := t.guests[id]
	if g == nil {
		t.mu.Unlock()
		return vmm.MigrationStats{}, vmm.ErrNoSuchGuest{InstanceID: id}
	}
	state := g.state
	injected := t.take(fault{id, opResume})
	t.mu.Unlock()
	if state != vmm.StateIncoming {
		return vmm.MigrationStats{}, fmt.Errorf("resume instance %d: %w: it is %s, not started with Incoming", id, ErrBadState, state)
	}
	st, n, err := readState(file)
	if err == nil && st.InstanceID != id {
		err = fmt.Errorf("%w: it holds instance %d", ErrSuspendFile, st.InstanceID)
	}
	if err == nil {
		err = sameDisks(g.spec, st.Disks, g.disks)
	}
	if err == nil {
		err = sleep(ctx, s.lat.Resume)
	}
	if err == nil && injected {
		err = ErrInjected
	}
	if err != nil {
		return vmm.MigrationStats{}, fmt.Errorf("load the state of instance %d: %w", id, err)
	}
	to := vmm.StateRunning
	if st.Paused {
		to = vmm.StatePaused
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.guests[id] != g || g.state != vmm.StateIncoming {
		return vmm.MigrationStats{}, fmt.Errorf("resume instance %d: %w: the guest changed while loading", id, ErrBadState)
	}
	g.state, g.started = to, time.Now()
	took := time.Since(begin)
	return vmm.MigrationStats{Total: took, Downtime: took, Bytes: n}, nil
}

// beginOutgoing marks a running or paused guest Migrating for a suspend
// or a migration; it returns the guest, its state before, and whether a
// fault knob makes this operation fail.
func (t *table) beginOutgoing(id int64, o op) (*guest, vmm.State, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.guests[id]
	if g == nil {
		return nil, "", false, vmm.ErrNoSuchGuest{InstanceID: id}
	}
	if g.state != vmm.StateRunning && g.state != vmm.StatePaused {
		return nil, "", false, fmt.Errorf("%w: it is %s", ErrBadState, g.state)
	}
	prev := g.state
	g.state = vmm.StateMigrating
	return g, prev, t.take(fault{id, o}), nil
}

// restore puts a guest whose outgoing operation failed back as it was.
func (t *table) restore(id int64, g *guest, prev vmm.State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.guests[id] == g && g.state == vmm.StateMigrating {
		g.state = prev
	}
}

func writeState(file string, st stateFile) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("write state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	var w io.Writer = tmp
	var zw *gzip.Writer
	if strings.HasSuffix(file, ".gz") {
		zw = gzip.NewWriter(tmp)
		w = zw
	}
	err = json.NewEncoder(w).Encode(st)
	if zw != nil && err == nil {
		err = zw.Close()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return 0, fmt.Errorf("write state file: %w", err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return 0, fmt.Errorf("write state file: %w", err)
	}
	return fi.Size(), nil
}

func readState(file string) (stateFile, int64, error) {
	var st stateFile
	f, err := os.Open(file)
	if err != nil {
		return st, 0, fmt.Errorf("%w: %v", ErrSuspendFile, err)
	}
	defer f.Close()
	var r io.Reader = io.LimitReader(f, 1<<20)
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return st, 0, fmt.Errorf("%w: %v", ErrSuspendFile, err)
		}
		r = zr
	}
	if err := json.NewDecoder(r).Decode(&st); err != nil || !st.Simulated {
		return st, 0, fmt.Errorf("%w: not a simulated guest's state (%v)", ErrSuspendFile, err)
	}
	fi, _ := f.Stat()
	return st, fi.Size(), nil
}
