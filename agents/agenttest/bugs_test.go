package agenttest_test

import (
	"os"
	"strings"

	"github.com/tashi-go/tashi/agents/agenttest"
)

// strict turns off the workarounds these tests still use for bugs they
// found that are not fixed yet (below); TASHI_AGENT_STRICT=1 sets it.
// Once the fixes land it should go, with the workarounds. (B1-B4, B6-B8
// and B10, found by these tests too, are fixed: the tests assert them.)
//
//   - B5 (agents/migrate.go advance; clustermanager/store/agent.go
//     finish): after migrateGo the claim is released and claimed again,
//     and another agent woken by that change can take it first: it finds
//     the target still waiting, calls the migration interrupted and
//     leaves the instance on its source. Not a safety bug; the tests do
//     not count on migrations landing.
//   - B11 (clustermanager/store/actions.go Migrate): migrateVm locks the
//     instance, then the target host; the heartbeat flush locks hosts,
//     then instances: they deadlock (40P01), the heartbeat batch is
//     dropped and the request retried. No workaround; it shows as "write
//     heartbeats ... concurrent update" in the CM log and adds seconds.
//   - B12 (agents/migrate.go migratePrep): an agent whose claim expired
//     while it was slow (see B11) still drops the target's guest after
//     another agent landed the instance there: the guest is gone, the
//     record says Running. The property test's agents use a long claim
//     TTL (they are stopped, never killed, so it costs nothing).
//   - B4b (clustermanager/store/agent.go FinishClaim): when a user's
//     request changes the instance between dropIfMoved and the check in
//     the Mutate, the Mutate answers "went from X to Y while claimed" and
//     rolls back, so the claim is not released: the new transition
//     (Destroying, say) waits for the claim's TTL (600 s in tashi-agent).
//     The tests only wait longer (their TTLs are short).
var strict = os.Getenv("TASHI_AGENT_STRICT") == "1"

// diskFailures returns the event-log lines of operations that failed
// because a simulated disk went missing or was replaced.
func diskFailures(c *agenttest.Cluster, ids []int64) []string {
	var out []string
	for _, id := range ids {
		for _, line := range c.EventLog(ctx, id) {
			if strings.Contains(line, "disk file missing") || strings.Contains(line, "disk file replaced") {
				out = append(out, line)
			}
		}
	}
	return out
}
