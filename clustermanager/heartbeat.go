package clustermanager

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
)

// heartbeats batches node managers' heartbeats. Liveness only needs the
// latest contact per host, so heartbeats are absorbed in memory and
// written every flush interval in one statement; only VM reports that
// differ from what the host said last time are reconciled against the
// record. A crash loses at most one interval of contact times, which
// the next heartbeats restore: heartbeats are not authoritative.
type heartbeats struct {
	mu      sync.Mutex
	pending map[int64]api.Heartbeat
	last    map[reportKey]api.InstanceState // last state each host reported per instance
	known   map[int64]bool                  // host ids seen in the record
	store   *store.Store
	log     *slog.Logger
	now     func() time.Time
	took    prometheus.Observer // seconds per flush
}

func newHeartbeats(st *store.Store, log *slog.Logger, took prometheus.Observer) *heartbeats {
	return &heartbeats{pending: map[int64]api.Heartbeat{}, last: map[reportKey]api.InstanceState{},
		known: map[int64]bool{}, store: st, log: log, now: time.Now, took: took}
}

// reportKey is one host's view of one instance: during a migration the
// source and the target report the same instance differently.
type reportKey struct{ host, instance int64 }

// add queues a heartbeat; unknown hosts are refused at once.
func (b *heartbeats) add(ctx context.Context, hb api.Heartbeat) error {
	if err := validHeartbeat(hb); err != nil {
		return err
	}
	b.mu.Lock()
	known := b.known[hb.HostID]
	b.mu.Unlock()
	if !known {
		ok, err := b.store.HostExists(ctx, hb.HostID)
		if err != nil {
			return err
		}
		if !ok {
			return api.Errorf(api.CodeNotFound, "hostId", "host %d is not in the record; register first", hb.HostID)
		}
	}
	b.mu.Lock()
	b.known[hb.HostID] = true
	b.pending[hb.HostID] = hb
	b.mu.Unlock()
	return nil
}

func validHeartbeat(hb api.Heartbeat) error {
	if hb.HostID < 1 {
		return api.Errorf(api.CodeInvalid, "hostId", "hostId %d is not valid", hb.HostID)
	}
	if len(hb.VMs) > 4096 {
		return api.Errorf(api.CodeInvalid, "vms", "%d VMs in one heartbeat; accepted: up to 4096", len(hb.VMs))
	}
	for _, vm := range hb.VMs {
		if _, err := api.ParseInstanceState(string(vm.State)); err != nil {
			return err
		}
	}
	return nil
}

// take empties the buffer and picks the VM reports that changed.
func (b *heartbeats) take() ([]api.Heartbeat, []store.HostReport) {
	b.mu.Lock()
	defer b.mu.Unlock()
	hbs := make([]api.Heartbeat, 0, len(b.pending))
	var changed []store.HostReport
	for _, hb := range b.pending {
		hbs = append(hbs, hb)
		for _, vm := range hb.VMs {
			if b.last[reportKey{hb.HostID, vm.InstanceID}] != vm.State {
				changed = append(changed, store.HostReport{HostID: hb.HostID, VMReport: vm})
			}
		}
	}
	clear(b.pending)
	return hbs, changed
}

// remember notes reports as applied, so they are not looked at again.
func (b *heartbeats) remember(reps []store.HostReport) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.last) > 1_000_000 {
		clear(b.last)
	}
	for _, r := range reps {
		b.last[reportKey{r.HostID, r.InstanceID}] = r.State
	}
}

// flush writes what is buffered. On failure the heartbeats are dropped
// (the next ones carry the same news) and the reports are retried.
func (b *heartbeats) flush(ctx context.Context) {
	hbs, changed := b.take()
	if len(hbs) == 0 {
		return
	}
	sys := store.Actor{Name: "heartbeat", Role: api.RoleNodeManager}
	start := time.Now()
	defer func() { b.took.Observe(time.Since(start).Seconds()) }()
	if err := b.store.ApplyHeartbeats(ctx, sys, b.now(), hbs, changed); err != nil {
		b.log.Error("write heartbeats", "hosts", len(hbs), "err", err)
		return
	}
	b.remember(changed)
}

// run flushes every interval until ctx ends, then once more.
func (b *heartbeats) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			b.flush(ctx)
		}
	}
}
