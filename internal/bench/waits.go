package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// waitSampler looks at pg_stat_activity every interval and counts what
// the CM's busy backends are doing: on CPU, waiting for a lock, for the
// WAL flush, or for the CM's next statement inside a transaction. It says
// where a request's time goes inside PostgreSQL.
type waitSampler struct {
	mu      sync.Mutex
	counts  map[string]int
	samples int
	busy    int // sum over samples of busy backends
	stop    context.CancelFunc
	done    chan struct{}
}

func startWaitSampler(ctx context.Context, dsn, db string, every time.Duration) (*waitSampler, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect the wait sampler: %w", err)
	}
	ctx, stop := context.WithCancel(ctx)
	s := &waitSampler{counts: map[string]int{}, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample(ctx, conn, db)
			}
		}
	}()
	return s, nil
}

func (s *waitSampler) sample(ctx context.Context, conn *pgx.Conn, db string) {
	rows, err := conn.Query(ctx, `SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, '')
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()
		AND backend_type = 'client backend' AND state <> 'idle'`, db)
	if err != nil {
		return
	}
	var got []string
	for rows.Next() {
		var state, typ, ev string
		if rows.Scan(&state, &typ, &ev) == nil {
			got = append(got, waitLabel(state, typ, ev))
		}
	}
	if rows.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	s.busy += len(got)
	for _, g := range got {
		s.counts[g]++
	}
}

func waitLabel(state, typ, ev string) string {
	switch {
	case strings.HasPrefix(state, "idle in transaction"):
		return "in a transaction, waiting for the CM's next statement"
	case typ == "":
		return "running (CPU)"
	}
	return typ + ":" + ev
}

// finish stops sampling and describes what was seen.
func (s *waitSampler) finish() string {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == 0 || s.busy == 0 {
		return "no busy backend seen"
	}
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range s.counts {
		all = append(all, kv{k, n})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Compare(b.n, a.n) })
	var parts []string
	for i, x := range all {
		if i == 6 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", x.k, 100*float64(x.n)/float64(s.busy)))
	}
	return fmt.Sprintf("on average %.1f busy backends in %d samples; of their samples: %s",
		float64(s.busy)/float64(s.samples), s.samples, strings.Join(parts, ", "))
}
