package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// series is one reading of the CM's GET /metrics: every sample's value by
// its full series name as exposed (name{label="v",...}).
type series map[string]float64

func (c *cm) readMetrics(ctx context.Context) (series, error) {
	hc := &http.Client{Transport: c.tr, Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, "GET", c.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read CM metrics: %w", err)
	}
	defer resp.Body.Close()
	out := series{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sum adds the samples of metric name whose labels contain every one of
// the label matchers (e.g. `route="POST /v1/agent/plans"`).
func (s series) sum(name string, labels ...string) float64 {
	var total float64
	for k, v := range s {
		rest, ok := strings.CutPrefix(k, name)
		if !ok || (rest != "" && rest[0] != '{') {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(rest, l)
		}
		if all {
			total += v
		}
	}
	return total
}

// routeUse is what the CM served on one route between two readings.
type routeUse struct {
	calls   float64
	seconds float64 // summed handler time
}

func (u routeUse) mean() time.Duration {
	if u.calls == 0 {
		return 0
	}
	return time.Duration(u.seconds / u.calls * float64(time.Second))
}

func routeDelta(before, after series, route string) routeUse {
	l := `route="` + route + `"`
	return routeUse{
		calls:   after.sum("tashi_cm_request_seconds_count", l) - before.sum("tashi_cm_request_seconds_count", l),
		seconds: after.sum("tashi_cm_request_seconds_sum", l) - before.sum("tashi_cm_request_seconds_sum", l),
	}
}
