package agents

import (
	"context"

	"github.com/tashi-go/tashi/api"
)

// carryCalls takes recorded vmmSpecificCalls to the node managers and
// records their answers.
func (a *Agent) carryCalls(ctx context.Context, snap api.Snapshot) {
	pending, err := a.cfg.CM.PendingCalls(ctx)
	if err != nil || len(pending) == 0 {
		return
	}
	hosts := map[int64]*api.Host{}
	for i := range snap.Hosts {
		hosts[snap.Hosts[i].ID] = &snap.Hosts[i]
	}
	where := map[int64]*api.Host{}
	for _, in := range snap.Instances {
		if in.HostID != nil {
			where[in.ID] = hosts[*in.HostID]
		}
	}
	for _, c := range pending {
		a.mu.Lock()
		busy := a.calls[c.ID]
		a.calls[c.ID] = true
		a.mu.Unlock()
		if busy {
			continue
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() { a.mu.Lock(); delete(a.calls, c.ID); a.mu.Unlock() }()
			a.carryCall(ctx, c, where[c.InstanceID])
		}()
	}
}

func (a *Agent) carryCall(ctx context.Context, c api.VMMCall, h *api.Host) {
	status, result := "failed", "the instance is not running on any host"
	if h != nil {
		msg, err := a.nm(h).Call(ctx, c.InstanceID, c.Arg)
		status, result = "done", msg.Message
		if err != nil {
			status, result = "failed", err.Error()
		}
	}
	if _, err := a.cfg.CM.AnswerCall(ctx, c.ID, status, result); err != nil && !api.IsCode(err, api.CodeConflict) {
		a.log.Warn("record call answer", "call", c.ID, "err", err)
	}
}
