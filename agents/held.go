package agents

import (
	"context"
	"time"

	"github.com/tashi-go/tashi/api"
)

// releaseHeld puts Held instances back to Pending once their back-off
// has passed (HeldBackoff, doubled for every host their activation failed
// on), at most HeldRetries times; the CM records the failed hosts, which
// the scheduler then avoids.
func (a *Agent) releaseHeld(ctx context.Context, snap api.Snapshot) {
	for _, in := range snap.Instances {
		if in.State != api.Held || len(in.FailedHosts) == 0 || len(in.FailedHosts) > a.cfg.HeldRetries {
			continue
		}
		wait := a.cfg.HeldBackoff << (len(in.FailedHosts) - 1)
		if snap.Now.Sub(in.UpdatedAt) < wait {
			continue
		}
		if _, err := a.cfg.CM.Release(ctx, in.ID, in.Version); err != nil && !api.IsCode(err, api.CodeConflict) {
			a.log.Warn("release a held instance", "instance_id", in.ID, "err", err)
			continue
		}
		a.log.Info("held instance released for another try", "instance_id", in.ID,
			"failed_hosts", in.FailedHosts, "waited", snap.Now.Sub(in.UpdatedAt).Round(time.Second))
	}
}
