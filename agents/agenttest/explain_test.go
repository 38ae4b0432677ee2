package agenttest_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/agents/agenttest"
)

var reInstance = regexp.MustCompile(`instance (\d+)`)

// explain appends, to a list of violations, the event log of every
// instance they name.
func explain(c *agenttest.Cluster, bad []string) string {
	seen := map[int64]bool{}
	var b strings.Builder
	b.WriteString(strings.Join(bad, "\n"))
	for _, m := range reInstance.FindAllStringSubmatch(strings.Join(bad, "\n"), -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		if seen[id] || len(seen) >= 8 {
			continue
		}
		seen[id] = true
		fmt.Fprintf(&b, "\nevent log of instance %d:\n  %s", id, strings.Join(c.EventLog(ctx, id), "\n  "))
	}
	return b.String()
}
