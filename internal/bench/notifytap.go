package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tashi-go/tashi/clustermanager/store"
)

// notifyTap is a second LISTEN on the CM's change channel. It notes when
// a commit's NOTIFY reaches a client, which is when the CM's own listener
// hears it too: the watch's return minus that is the CM's share of the
// wake-up.
type notifyTap struct {
	conn     *pgx.Conn
	arrivals chan time.Time
	stop     context.CancelFunc
	done     chan struct{}
}

func startNotifyTap(ctx context.Context, dsn string) (*notifyTap, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect the notify tap: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+store.Channel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen on %s: %w", store.Channel, err)
	}
	ctx, stop := context.WithCancel(ctx)
	n := &notifyTap{conn: conn, arrivals: make(chan time.Time, 64), stop: stop, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		for {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				return
			}
			select {
			case n.arrivals <- time.Now():
			default:
			}
		}
	}()
	return n, nil
}

// drain forgets notifications that arrived so far.
func (n *notifyTap) drain() {
	for {
		select {
		case <-n.arrivals:
		default:
			return
		}
	}
}

// next waits up to limit for the next notification's arrival time.
func (n *notifyTap) next(limit time.Duration) (time.Time, bool) {
	select {
	case t := <-n.arrivals:
		return t, true
	case <-time.After(limit):
		return time.Time{}, false
	}
}

func (n *notifyTap) close() {
	n.stop()
	<-n.done
	n.conn.Close(context.Background())
}
