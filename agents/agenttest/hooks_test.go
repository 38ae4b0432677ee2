package agenttest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/agents"
	"github.com/tashi-go/tashi/agents/agenttest"
	"github.com/tashi-go/tashi/api"
)

// recordingHook notes every call; with fail set it refuses them.
type recordingHook struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

var _ agents.Hook = (*recordingHook)(nil)

func (h *recordingHook) Name() string { return "recorder" }

func (h *recordingHook) note(what string, in api.Instance) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, what+" "+in.Name)
	if h.fail {
		return errors.New("site DNS refused")
	}
	return nil
}

func (h *recordingHook) Created(_ context.Context, in api.Instance) error {
	return h.note("created", in)
}
func (h *recordingHook) Destroyed(_ context.Context, in api.Instance) error {
	return h.note("destroyed", in)
}

func (h *recordingHook) seen() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.calls, ",")
}

// The agent runs its hooks once when a guest starts and once when it is
// destroyed; a hook's failure leaves the guest running and shows as the
// instance's error.
func TestHooksRunOnCreateAndDestroy(t *testing.T) {
	c := agenttest.New(t, agenttest.Options{Hosts: 1})
	ok, bad := &recordingHook{}, &recordingHook{fail: true}
	c.StartAgent("a1", agenttest.AgentOptions{Hooks: []agents.Hook{ok, bad}})
	if _, err := c.User.CreateVM(ctx, agenttest.Spec("web", 1, 128)); err != nil {
		t.Fatal(err)
	}
	in := waitFor(t, c, "web", func(in api.Instance) bool { return in.State == api.Running })
	if !strings.Contains(in.Error, "recorder: site DNS refused") {
		t.Errorf("a failing hook: instance error %q; want it named", in.Error)
	}
	if _, err := c.User.Act(ctx, "web", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ok.seen() != "created web,destroyed web"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hook calls %q; want created web,destroyed web", ok.seen())
		}
	}
}

func waitFor(t *testing.T, c *agenttest.Cluster, ref string, cond func(api.Instance) bool) api.Instance {
	t.Helper()
	var in api.Instance
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if in, err = c.User.Instance(ctx, ref); err == nil && cond(in) {
			return in
		}
	}
	t.Fatalf("%s: %+v %v", ref, in, err)
	return in
}
