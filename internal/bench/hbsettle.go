package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	settleQuiet   = 3 * time.Second        // instances unread this long: absorbed
	settleLongTx  = 500 * time.Millisecond // an open transaction older than this: still working
	settleLimitHi = 3 * time.Minute
)

// coldStart sends the first round (every host once, over hbColdFor), as
// after a CM start: the CM has seen no VM report yet and reconciles every
// one against the record. Then it keeps heartbeating at the steady rate
// until the CM has absorbed that round, so that the measured window that
// follows sees only the steady state.
func (r *hbRun) coldStart(ctx context.Context, e *env, dsn string) error {
	mon, err := newAbsorbWatch(ctx, dsn)
	if err != nil {
		return err
	}
	defer mon.conn.Close(context.WithoutCancel(ctx))
	e.progress("heartbeat: first round, every host once over %s", r.sz.hbColdFor)
	start := time.Now()
	r.cold, err = r.measure(ctx, func() paced {
		p := r.send(ctx, r.sz.hbColdFor/time.Duration(len(r.hosts)), len(r.hosts))
		for time.Since(start) < settleLimitHi && ctx.Err() == nil {
			done, err := mon.done(ctx)
			if err != nil {
				p.firstErr = cmpErr(p.firstErr, err)
				return p
			}
			if done {
				r.settled = true
				return p
			}
			p.merge(r.send(ctx, r.interval(), int(time.Second/r.interval())))
		}
		return p
	})
	r.absorbed = time.Since(start)
	e.progress("heartbeat: first round absorbed: %v after %s", r.settled, secs(r.absorbed))
	return err
}

// absorbWatch tells when the CM has worked through its heartbeat backlog:
// it has stopped reading instances (their scan counters in
// pg_stat_user_tables stood still for settleQuiet) and holds no long
// transaction open. In the steady state a heartbeat whose VMs did not
// change touches only the hosts table.
type absorbWatch struct {
	conn  *pgx.Conn
	scans int64
	since time.Time
}

func newAbsorbWatch(ctx context.Context, dsn string) (*absorbWatch, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to watch the CM's backlog: %w", err)
	}
	return &absorbWatch{conn: conn, scans: -1}, nil
}

func (a *absorbWatch) done(ctx context.Context) (bool, error) {
	var scans int64
	var oldest float64
	err := a.conn.QueryRow(ctx, `SELECT
		coalesce((SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'instances'), 0),
		coalesce((SELECT extract(epoch FROM max(now() - xact_start)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL), 0)::float8`).
		Scan(&scans, &oldest)
	if err != nil {
		return false, fmt.Errorf("watch the CM's backlog: %w", err)
	}
	if scans != a.scans {
		a.scans, a.since = scans, time.Now()
	}
	return oldest < settleLongTx.Seconds() && time.Since(a.since) >= settleQuiet, nil
}
