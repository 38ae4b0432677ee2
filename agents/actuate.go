package agents

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tashi-go/tashi/api"
)

// step carries out one claimed transition and says how it ended.
type step func(ctx context.Context, w *work) api.ClaimOutcome

// work is one claimed instance with what a step needs to know.
type work struct {
	in     api.Instance
	host   *api.Host // where it runs (nil if nowhere)
	target *api.Host // where a migration goes
	nets   map[string]api.NetworkInfo
	claim  api.Claim
}

func (a *Agent) steps() map[api.InstanceState]step {
	return map[api.InstanceState]step{
		api.Activating:   a.activate,
		api.Resuming:     a.resume,
		api.Pausing:      a.simple("pause"),
		api.Unpausing:    a.simple("unpause"),
		api.ShuttingDown: a.simple("shutdown"),
		api.Destroying:   a.destroy,
		api.Suspending:   a.suspend,
		api.MigratePrep:  a.migratePrep,
		api.MigrateTrans: a.migrateTrans,
	}
}

// actuate starts a worker for every instance in a transitional state.
func (a *Agent) actuate(ctx context.Context, snap api.Snapshot) {
	steps := a.steps()
	hosts := map[int64]*api.Host{}
	for i := range snap.Hosts {
		hosts[snap.Hosts[i].ID] = &snap.Hosts[i]
	}
	nets := networkInfo(snap.Networks)
	for _, in := range snap.Instances {
		st, ok := steps[in.State]
		if !ok {
			continue
		}
		w := work{in: in, nets: nets}
		if in.HostID != nil {
			w.host = hosts[*in.HostID]
		}
		if in.TargetID != nil {
			w.target = hosts[*in.TargetID]
		}
		a.start(in.ID, func() { a.carry(ctx, w, st) })
	}
}

// carry claims the instance, runs the step and reports the outcome.
func (a *Agent) carry(ctx context.Context, w work, st step) {
	cl, err := a.cfg.CM.ClaimInstance(ctx, api.ClaimRequest{InstanceID: w.in.ID, Version: w.in.Version,
		Owner: a.cfg.Name, TTLSeconds: int(a.cfg.ClaimTTL.Seconds())})
	if err != nil {
		if api.IsCode(err, api.CodeConflict) {
			a.retrySoon.Store(true) // a claim that expires announces nothing
		}
		return // another agent has it, or it changed: the next snapshot tells
	}
	w.claim, w.in = cl, cl.Instance
	from := w.in.State
	out := st(ctx, &w)
	if ctx.Err() != nil {
		_ = a.cfg.CM.ReleaseClaim(context.WithoutCancel(ctx), w.claim.ID)
		return
	}
	if _, err := a.cfg.CM.FinishClaim(ctx, w.claim.ID, out); err != nil {
		a.log.Warn("report outcome", "instance_id", w.in.ID, "state", w.in.State, "err", err)
		return
	}
	a.log.Info("transition done", "instance_id", w.in.ID, "from", from, "event", out.Event, "error", out.Error)
}

func failed(err error) api.ClaimOutcome {
	return api.ClaimOutcome{Event: api.EvOpFailed, Error: err.Error()}
}

func (a *Agent) activate(ctx context.Context, w *work) api.ClaimOutcome {
	if w.host == nil {
		return failed(fmt.Errorf("instance %d is Activating without a host", w.in.ID))
	}
	opID := fmt.Sprintf("activate-%d-%d", w.in.ID, w.in.Version)
	vm, err := a.nm(w.host).Instantiate(ctx, api.InstantiateRequest{OpID: opID, Instance: w.in, Networks: w.nets})
	if err != nil {
		return failed(fmt.Errorf("activate on %s: %w", w.host.Name, err))
	}
	return api.ClaimOutcome{Event: api.EvOpFinished, VMID: vm.VMID, Error: a.runHooks(ctx, w.in, true)}
}

func (a *Agent) resume(ctx context.Context, w *work) api.ClaimOutcome {
	if w.host == nil {
		return failed(fmt.Errorf("instance %d is Resuming without a host", w.in.ID))
	}
	opID := fmt.Sprintf("resume-%d-%d", w.in.ID, w.in.Version)
	req := api.InstantiateRequest{OpID: opID, Instance: w.in, Networks: w.nets, ResumeFile: w.in.Hints["__resume_source"]}
	vm, err := a.nm(w.host).Instantiate(ctx, req)
	if err != nil {
		return failed(fmt.Errorf("resume on %s: %w", w.host.Name, err))
	}
	ev := api.EvOpFinished
	if vm.State == api.Paused { // it was suspended while paused, and comes back paused
		ev = api.EvPausedDone
	}
	return api.ClaimOutcome{Event: ev, VMID: vm.VMID, Stats: vm.Stats}
}

// simple runs an NM operation that needs only the instance id.
func (a *Agent) simple(op string) step {
	return func(ctx context.Context, w *work) api.ClaimOutcome {
		if w.host == nil {
			return failed(fmt.Errorf("instance %d has no host to %s it on", w.in.ID, op))
		}
		req := api.OpRequest{OpID: fmt.Sprintf("%s-%d-%d", op, w.in.ID, w.in.Version)}
		if _, err := a.nm(w.host).Op(ctx, w.in.ID, op, req); err != nil {
			return failed(fmt.Errorf("%s on %s: %w", op, w.host.Name, err))
		}
		return api.ClaimOutcome{Event: api.EvOpFinished}
	}
}

// destroy kills the guest; with no host, or a host that is down, the
// record is cleared anyway (Tashi did the same) and the event log says so.
func (a *Agent) destroy(ctx context.Context, w *work) api.ClaimOutcome {
	if w.host == nil || !w.host.Up {
		msg := "no live host: removed from the record only"
		if hookErr := a.runHooks(ctx, w.in, false); hookErr != "" {
			msg += "; " + hookErr
		}
		return api.ClaimOutcome{Event: api.EvOpFinished, Error: msg}
	}
	req := api.OpRequest{OpID: fmt.Sprintf("destroy-%d-%d", w.in.ID, w.in.Version)}
	if _, err := a.nm(w.host).Op(ctx, w.in.ID, "destroy", req); err != nil && !api.IsCode(err, api.CodeNotFound) {
		return failed(fmt.Errorf("destroy on %s: %w", w.host.Name, err))
	}
	if w.target != nil && w.target.Up { // destroyed during a migration: the target may hold it too
		if _, err := a.nm(w.target).Op(ctx, w.in.ID, "destroy", req); err != nil && !api.IsCode(err, api.CodeNotFound) {
			return failed(fmt.Errorf("destroy on migration target %s: %w", w.target.Name, err))
		}
	}
	return api.ClaimOutcome{Event: api.EvOpFinished, Error: a.runHooks(ctx, w.in, false)}
}

func (a *Agent) suspend(ctx context.Context, w *work) api.ClaimOutcome {
	if w.host == nil {
		return failed(fmt.Errorf("instance %d has no host to suspend it on", w.in.ID))
	}
	req := api.SuspendRequest{OpID: fmt.Sprintf("suspend-%d-%d", w.in.ID, w.in.Version), Name: w.in.Name}
	st, err := a.nm(w.host).Suspend(ctx, w.in.ID, req)
	if err != nil {
		return failed(fmt.Errorf("suspend on %s: %w", w.host.Name, err))
	}
	return api.ClaimOutcome{Event: api.EvOpFinished, Stats: &st}
}

func networkInfo(ns []api.Network) map[string]api.NetworkInfo {
	out := map[string]api.NetworkInfo{}
	for _, n := range ns {
		info := api.NetworkInfo{ID: n.ID, Name: n.Name, Kind: n.Kind, SegmentID: n.SegmentID, CIDR: n.CIDR,
			Gateway: n.Gateway, Domain: n.Domain, MTU: n.MTU}
		out[n.Name] = info
		out[strconv.FormatInt(n.ID, 10)] = info
		if n.Default {
			out[""] = info
		}
	}
	return out
}
