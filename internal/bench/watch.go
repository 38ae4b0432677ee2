package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
)

const watchTarget = 5 * time.Millisecond // p50 wake-up

// watchSample is one round: when the createVm was sent, when its answer
// came, and when the agent's watch returned.
type watchSample struct {
	send, resp, woke time.Time
	notified         time.Time // the NOTIFY reached the tap; zero if it never did
}

// runWatch is figure 3: an agent's blocked watch, woken by another
// client's createVm.
func runWatch(ctx context.Context, e *env, sz sizes) (t table, err error) {
	c, err := e.startCM(ctx, "bench_watch")
	if err != nil {
		return t, err
	}
	defer func() {
		err = errors.Join(err, c.stop())
		t.note("%s", c.logSummary())
	}()
	if err := catalog(ctx, c); err != nil {
		return t, err
	}
	agent, err := c.user(ctx, "bench-agent", api.RoleAgent)
	if err != nil {
		return t, err
	}
	u, err := c.user(ctx, "bench-user", api.RoleUser)
	if err != nil {
		return t, err
	}
	tap, err := startNotifyTap(ctx, c.dsn)
	if err != nil {
		return t, err
	}
	defer tap.close()
	pm, err := e.postmaster()
	if err != nil {
		return t, err
	}
	before, err := readCPU(c.pid, pm)
	if err != nil {
		return t, err
	}
	e.progress("watch: %d rounds after %d warm-up rounds", sz.watchRounds, sz.watchWarmup)
	got, early, err := watchRounds(ctx, c, tap, agent, u, sz)
	if err != nil {
		return t, err
	}
	after, err := readCPU(c.pid, pm)
	if err != nil {
		return t, err
	}
	return watchTable(sz, got, early, before.to(after)), nil
}

// watchRounds runs warm-up and measured rounds; a round whose watch
// returned before the createVm was sent is counted as early and redone.
func watchRounds(ctx context.Context, c *cm, tap *notifyTap, agent, u *api.Client, sz sizes) ([]watchSample, int, error) {
	var got []watchSample
	early, warm := 0, 0
	for i := 0; len(got) < sz.watchRounds; i++ {
		if early > sz.watchRounds+sz.watchWarmup {
			return nil, early, fmt.Errorf("%d watches returned before any change was made; giving up", early)
		}
		s, ok, err := watchRound(ctx, c, tap, agent, u, fmt.Sprintf("w-%d", i))
		switch {
		case err != nil:
			return nil, early, err
		case !ok:
			early++
		case warm < sz.watchWarmup:
			warm++
		default:
			got = append(got, s)
		}
	}
	return got, early, nil
}

// watchRound takes a snapshot, parks a watch on its index, commits a
// createVm and times the watch's return. ok is false when the watch
// returned before the createVm was sent (a spurious wake-up).
func watchRound(ctx context.Context, c *cm, tap *notifyTap, agent, u *api.Client, name string) (watchSample, bool, error) {
	snap, err := agent.Snapshot(ctx)
	if err != nil {
		return watchSample{}, false, fmt.Errorf("snapshot: %w", err)
	}
	type woke struct {
		at  time.Time
		res api.WatchResult
		err error
	}
	ch := make(chan woke, 1)
	go func() {
		res, err := agent.Watch(ctx, snap.Index, 30*time.Second)
		ch <- woke{time.Now(), res, err}
	}()
	if err := c.waitWatchers(ctx, 1, 5*time.Second); err != nil {
		<-ch
		return watchSample{}, false, err
	}
	select {
	case w := <-ch:
		return watchSample{}, false, w.err
	default:
	}
	var s watchSample
	tap.drain()
	s.send = time.Now()
	_, err = u.CreateVM(ctx, api.InstanceSpec{Name: name, Cores: 1, Memory: 128, Disks: []api.Disk{{URI: benchImage}}})
	s.resp = time.Now()
	w := <-ch
	switch {
	case err != nil:
		return s, false, fmt.Errorf("createVm %s: %w", name, err)
	case w.err != nil:
		return s, false, fmt.Errorf("watch index %d: %w", snap.Index, w.err)
	case !w.res.Changed:
		return s, false, fmt.Errorf("watch index %d: ran out without seeing createVm %s", snap.Index, name)
	}
	s.woke = w.at
	s.notified, _ = tap.next(2 * time.Second)
	return s, true, nil
}

// waitWatchers polls the CM's tashi_cm_watches gauge until n watches are
// parked, so the createVm is sent while the watch is really blocked.
func (c *cm) waitWatchers(ctx context.Context, n int, limit time.Duration) error {
	hc := &http.Client{Transport: c.tr, Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		v, err := c.gauge(ctx, hc, "tashi_cm_watches")
		if err != nil {
			return err
		}
		if v >= float64(n) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no watch parked in the CM after %s (tashi_cm_watches = %v)", limit, v)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

// gauge reads one unlabelled series from GET /metrics.
func (c *cm) gauge(ctx context.Context, hc *http.Client, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read CM metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("CM metrics have no %s", name)
}

func watchTable(sz sizes, got []watchSample, early int, cpu cpuUse) table {
	var sinceSend, sinceResp, sinceNotify, rtt []time.Duration
	for _, s := range got {
		sinceSend = append(sinceSend, s.woke.Sub(s.send))
		sinceResp = append(sinceResp, s.woke.Sub(s.resp))
		rtt = append(rtt, s.resp.Sub(s.send))
		if !s.notified.IsZero() {
			sinceNotify = append(sinceNotify, s.woke.Sub(s.notified))
		}
	}
	a, b, n, r := summarize(sinceSend), summarize(sinceResp), summarize(sinceNotify), summarize(rtt)
	t := table{title: "Figure 3: watch wake-up after a createVm commits"}
	t.info("rounds", fmt.Sprintf("%d (%d spurious early wake-ups retried)", len(got), early))
	t.check("wake-up p50, bound from above: watch return − createVm send", "< "+ms(watchTarget), ms(a.p50), a.p50 < watchTarget)
	t.info("wake-up p99, bound from above: watch return − createVm send", ms(a.p99))
	t.info("watch return − createVm response: p50 / p99", ms(b.p50)+" / "+ms(b.p99))
	t.info("watch return − the NOTIFY's arrival at a second listener: p50 / p99", fmt.Sprintf("%s / %s (%d of %d rounds)", ms(n.p50), ms(n.p99), n.n, len(got)))
	t.info("createVm round trip (send → response): p50 / p99", ms(r.p50)+" / "+ms(r.p99))
	t.note("Each round: the agent takes GET /v1/agent/snapshot, starts GET /v1/agent/watch?index=<snapshot index>&wait=30s, the bench waits until the CM's tashi_cm_watches gauge shows it parked, then another user's createVm commits. %d warm-up rounds are not counted.", sz.watchWarmup)
	t.note("The commit happens at an unknown moment between sending the createVm and receiving its answer, so the true wake-up latency (watch return − commit) lies between the two measures: 'watch return − createVm send' bounds it from above (it adds the request's way in and the transaction's statements before the commit) and is the one compared to the target; 'watch return − createVm response' is a lower bound and can be negative, because the NOTIFY → watch answer path races the createVm answer itself.")
	t.note("During the rounds %s.", cpu.contention())
	t.note("A second LISTEN on the CM's change channel (a connection of the bench's own) notes when each commit's NOTIFY reaches a client, as it reaches the CM's listener: 'watch return − the NOTIFY's arrival' is the CM's own share of the wake-up (hub wake-up, one query for the current index, the HTTP answer); the true wake-up is that plus the NOTIFY delivery, which PostgreSQL sends at commit.")
	return t
}
