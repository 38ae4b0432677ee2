package simvmm

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// listener is a guest waiting for a migration at an address.
type listener struct {
	t  *table
	id int64
	g  *guest
}

// The process-wide migration registry: address -> waiting guest.
var (
	migMu     sync.Mutex
	listeners = map[string]listener{}
	nextPort  int
)

// ListenMigration makes a guest started with Incoming wait for a
// migration; it returns the address (host of addr, a fake port) under
// which the guest waits in the process-wide registry. Idempotent.
func (s *Sim) ListenMigration(ctx context.Context, id int64, addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen for migration of instance %d: address %q must be host:port", id, addr)
	}
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.guests[id]
	if g == nil {
		return "", vmm.ErrNoSuchGuest{InstanceID: id}
	}
	if g.state != vmm.StateIncoming {
		return "", fmt.Errorf("listen for migration of instance %d: %w: it is %s, not started with Incoming", id, ErrBadState, g.state)
	}
	if g.listen != "" {
		return g.listen, nil
	}
	g.listen = listen(host, listener{t: t, id: id, g: g})
	return g.listen, nil
}

// listen registers l under a free fake port of host.
func listen(host string, l listener) string {
	migMu.Lock()
	defer migMu.Unlock()
	for {
		nextPort = nextPort%64000 + 1
		addr := net.JoinHostPort(host, strconv.Itoa(1024+nextPort))
		if _, used := listeners[addr]; !used {
			listeners[addr] = l
			return addr
		}
	}
}

// unlisten removes the registration of g at addr, if it is still g's.
func unlisten(addr string, g *guest) {
	if addr == "" {
		return
	}
	migMu.Lock()
	defer migMu.Unlock()
	if l, ok := listeners[addr]; ok && l.g == g {
		delete(listeners, addr)
	}
}

// Migrate hands a running (or paused) guest to the guest waiting at
// target, which then runs as the source did; the local guest exits
// ("migrated"). On failure the local guest keeps running.
func (s *Sim) Migrate(ctx context.Context, id int64, target string, downtime time.Duration, bandwidth int64) (vmm.MigrationStats, error) {
	begin := time.Now()
	g, prev, injected, err := s.t.beginOutgoing(id, opMigrate)
	if err != nil {
		return vmm.MigrationStats{}, fmt.Errorf("migrate instance %d: %w", id, err)
	}
	fail := func(err error) (vmm.MigrationStats, error) {
		s.t.restore(id, g, prev)
		return vmm.MigrationStats{}, fmt.Errorf("migrate instance %d to %s: %w", id, target, err)
	}
	migMu.Lock()
	l, ok := listeners[target]
	migMu.Unlock()
	switch {
	case !ok:
		return fail(ErrNoListener)
	case l.id != id:
		return fail(fmt.Errorf("%w: it waits for instance %d", ErrNoListener, l.id))
	}
	if err := sleep(ctx, s.lat.Migrate); err != nil {
		return fail(err)
	}
	if injected {
		return fail(ErrInjected)
	}
	if err := s.checkDisks(g); err != nil {
		return fail(err)
	}
	if err := sameDisks(g.spec, g.disks, l.g.disks); err != nil {
		return fail(fmt.Errorf("the target opened other files than the source's: %w", err))
	}
	if err := l.land(prev); err != nil {
		return fail(err)
	}
	s.t.exit(id, g, "migrated")
	took := time.Since(begin)
	return vmm.MigrationStats{Total: took, Downtime: min(took, max(downtime, time.Millisecond)),
		Bytes: int64(g.spec.MemoryMiB) << 20}, nil
}

// land makes the waiting guest run in state st and announces it.
func (l listener) land(st vmm.State) error {
	l.t.mu.Lock()
	if l.t.guests[l.id] != l.g || l.g.state != vmm.StateIncoming {
		l.t.mu.Unlock()
		return fmt.Errorf("%w: the target's guest is gone", ErrNoListener)
	}
	l.g.state, l.g.started = st, time.Now()
	addr := l.g.listen
	l.g.listen = ""
	l.t.mu.Unlock()
	unlisten(addr, l.g)
	l.t.emit(vmm.Event{InstanceID: l.id, State: st, Reason: "incoming migration completed"})
	return nil
}
