package agents

import (
	"context"
	"fmt"

	"github.com/tashi-go/tashi/api"
)

// migratePrep carries a whole live migration: the target waits for the
// guest, the record says MigrateTrans, the source sends it, the target
// runs it; the outcome (with the measured downtime and total time) lands
// the instance on the target. If anything fails before the source sends,
// the guest stays where it was.
func (a *Agent) migratePrep(ctx context.Context, w *work) api.ClaimOutcome {
	if w.host == nil || w.target == nil {
		return failed(fmt.Errorf("instance %d: migration without a source or target host", w.in.ID))
	}
	tnm := a.nm(w.target)
	prep, err := tnm.PrepReceive(ctx, api.InstantiateRequest{OpID: fmt.Sprintf("prep-%d-%d", w.in.ID, w.in.Version),
		Instance: w.in, Networks: w.nets})
	if err != nil {
		a.dropTarget(ctx, w)
		return failed(fmt.Errorf("prepare %s to receive: %w", w.target.Name, err))
	}
	if err := a.advance(ctx, w, api.ClaimOutcome{Event: api.EvMigrateGo}); err != nil {
		if !api.IsCode(err, api.CodeConflict) { // a lost claim: the migration is another agent's now
			a.dropTarget(ctx, w)
		}
		return failed(err)
	}
	st, err := a.nm(w.host).Migrate(ctx, w.in.ID, api.MigrateVMRequest{OpID: fmt.Sprintf("migrate-%d-%d", w.in.ID, w.in.Version),
		Target: prep.Target})
	if err != nil {
		a.dropTarget(ctx, w)
		return failed(fmt.Errorf("migrate from %s to %s: %w", w.host.Name, w.target.Name, err))
	}
	return a.land(ctx, w, &st)
}

// migrateTrans takes over a migration another agent left half done: if
// the target runs the guest, it lands there; otherwise the source keeps it.
func (a *Agent) migrateTrans(ctx context.Context, w *work) api.ClaimOutcome {
	if w.target != nil {
		if vm, err := a.nm(w.target).VM(ctx, w.in.ID); err == nil && vm.State != api.MigrateTrans {
			return a.land(ctx, w, nil)
		}
		a.dropTarget(ctx, w)
	}
	return failed(fmt.Errorf("migration of instance %d was interrupted; it stays on its source", w.in.ID))
}

// land waits for the target to run the guest and reports it there.
func (a *Agent) land(ctx context.Context, w *work, st *api.OpStats) api.ClaimOutcome {
	req := api.OpRequest{OpID: fmt.Sprintf("receive-%d-%d", w.in.ID, w.in.Version)}
	if _, err := a.nm(w.target).Op(ctx, w.in.ID, "receive", req); err != nil {
		return failed(fmt.Errorf("target %s did not take the guest: %w", w.target.Name, err))
	}
	return api.ClaimOutcome{Event: api.EvOpFinished, HostID: &w.target.ID, Stats: st}
}

// advance records an intermediate outcome and claims the next step.
func (a *Agent) advance(ctx context.Context, w *work, o api.ClaimOutcome) error {
	in, err := a.cfg.CM.FinishClaim(ctx, w.claim.ID, o)
	if err != nil {
		return fmt.Errorf("record %s: %w", o.Event, err)
	}
	w.in = in // the CM keeps the claim ours for the next step
	return nil
}

// dropTarget removes a guest a target prepared for a migration that failed.
func (a *Agent) dropTarget(ctx context.Context, w *work) {
	req := api.OpRequest{OpID: fmt.Sprintf("drop-%d-%d", w.in.ID, w.in.Version), KeepDisks: true}
	if _, err := a.nm(w.target).Op(ctx, w.in.ID, "destroy", req); err != nil && !api.IsCode(err, api.CodeNotFound) {
		a.log.Warn("remove the target's half-received guest", "instance_id", w.in.ID, "host", w.target.Name, "err", err)
	}
}
