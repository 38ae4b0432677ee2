package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// floorRun measures what the machine gives without the CM: n durable
// transactions (BEGIN; one INSERT; pg_notify; COMMIT: four round trips,
// the smallest shape of a CM mutation) from clients connections of their
// own, straight to PostgreSQL. It bounds what any createVm can reach here.
func floorRun(ctx context.Context, e *env, clients, n int) (loadResult, error) {
	dsn, err := e.database(ctx, "bench_floor")
	if err != nil {
		return loadResult{}, err
	}
	conns := make([]*pgx.Conn, clients)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	for i := range conns {
		if conns[i], err = pgx.Connect(ctx, dsn); err != nil {
			return loadResult{}, fmt.Errorf("connect for the floor run: %w", err)
		}
	}
	if _, err := conns[0].Exec(ctx, `CREATE TABLE floor (id bigserial PRIMARY KEY, name text NOT NULL)`); err != nil {
		return loadResult{}, fmt.Errorf("create floor table: %w", err)
	}
	return floorLoad(ctx, conns, n), nil
}

func floorLoad(ctx context.Context, conns []*pgx.Conn, n int) loadResult {
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{n: n}
	var wg sync.WaitGroup
	start := time.Now()
	for _, conn := range conns {
		wg.Go(func() {
			var lat []time.Duration
			var errs int
			var first error
			for k := next.Add(1) - 1; k < int64(n) && ctx.Err() == nil; k = next.Add(1) - 1 {
				t0 := time.Now()
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO floor (name) VALUES ($1)`, fmt.Sprint("f-", k)); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `SELECT pg_notify('bench_floor', pg_current_xact_id()::text)`)
					return err
				})
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					first = cmpErr(first, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.lat = append(res.lat, lat...)
			res.errs += errs
			res.firstErr = cmpErr(res.firstErr, first)
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	return res
}
