package agents

import (
	"context"
	"errors"
	"fmt"

	"github.com/tashi-go/tashi/api"
)

// Hook is a site plugin the agent runs around a guest's life (Tashi's
// agent hooks): Created after the guest started on its host, Destroyed
// after it is gone. A hook's error does not undo the transition: it is
// logged and recorded as the instance's error, so `tashi getInstances`
// shows it.
type Hook interface {
	Name() string
	Created(ctx context.Context, in api.Instance) error
	Destroyed(ctx context.Context, in api.Instance) error
}

// runHooks calls every hook's Created (created) or Destroyed and joins
// their errors, each prefixed with the hook's name.
func (a *Agent) runHooks(ctx context.Context, in api.Instance, created bool) string {
	var errs []error
	for _, h := range a.cfg.Hooks {
		var err error
		if created {
			err = h.Created(ctx, in)
		} else {
			err = h.Destroyed(ctx, in)
		}
		if err != nil {
			a.log.Error("hook failed", "hook", h.Name(), "instance_id", in.ID, "created", created, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", h.Name(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err.Error()
	}
	return ""
}
