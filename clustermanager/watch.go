package clustermanager

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tashi-go/tashi/clustermanager/store"
)

// hub turns NOTIFYs into wake-ups. Each notification carries the id of
// the transaction that committed a change; maxSeen is the largest. A watch
// for index N (a snapshot's oldest running transaction) returns as soon as
// any change from a transaction >= N is known: that is a change the
// snapshot may have missed.
type hub struct {
	mu      sync.Mutex
	maxSeen uint64
	wake    chan struct{} // closed and replaced on every change
}

func newHub() *hub { return &hub{wake: make(chan struct{})} }

// saw records a committed change and wakes every waiter.
func (h *hub) saw(xid uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if xid > h.maxSeen {
		h.maxSeen = xid
	}
	close(h.wake)
	h.wake = make(chan struct{})
}

// wait blocks until a change >= index is known or ctx ends.
func (h *hub) wait(ctx context.Context, index uint64) bool {
	for {
		h.mu.Lock()
		seen, ch := h.maxSeen, h.wake
		h.mu.Unlock()
		if seen >= index {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// listen holds one connection in LISTEN and feeds the hub until ctx ends,
// reconnecting on errors. On every (re)connect it treats everything before
// as possibly changed, so no watch can miss a change made while it was
// not listening.
func (h *hub) listen(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) {
	for ctx.Err() == nil {
		err := h.listenOnce(ctx, pool)
		if ctx.Err() != nil {
			return
		}
		log.Warn("change listener lost its connection; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *hub) listenOnce(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+store.Channel); err != nil {
		return err
	}
	var next int64
	if err := conn.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&next); err != nil {
		return err
	}
	h.saw(uint64(next) - 1)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if xid, err := strconv.ParseUint(n.Payload, 10, 64); err == nil {
			h.saw(xid)
		}
	}
}
