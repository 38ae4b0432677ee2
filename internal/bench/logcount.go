package bench

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// logCount counts what in-process agents and node managers log: the
// placements the CM did not accept (one "placement not accepted" line
// each), whole plans the CM refused ("plan refused", with the number of
// placements), and warnings and errors, keeping the first of those.
type logCount struct {
	mu        sync.Mutex
	rejected  int            // placements not accepted
	refused   int            // placements in plans refused whole
	refusedPl int            // plans refused whole
	reasons   map[string]int // why placements were not accepted (first words)
	warns     int
	firstWarn string
	refusal   string // the error of the first plan refused whole
}

func (lc *logCount) firstRefusal() string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.refusal
}

// refusedPlans is how many plans were refused whole (an error, not a
// verdict: e.g. cut short).
func (lc *logCount) refusedPlans() int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.refusedPl
}

func newLogCount() *logCount { return &logCount{reasons: map[string]int{}} }

// logger is a slog.Logger that feeds the counts and writes nothing.
func (lc *logCount) logger() *slog.Logger { return slog.New(countHandler{lc: lc}) }

func (lc *logCount) snapshot() (rejected, refused, warns int, first string, reasons map[string]int) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	rs := make(map[string]int, len(lc.reasons))
	for k, v := range lc.reasons {
		rs[k] = v
	}
	return lc.rejected, lc.refused, lc.warns, lc.firstWarn, rs
}

type countHandler struct {
	lc    *logCount
	attrs []slog.Attr
}

func (h countHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	lc := h.lc
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch r.Message {
	case "placement not accepted":
		lc.rejected++
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" {
				lc.reasons[reasonKind(a.Value.String())]++
			}
			return true
		})
	case "plan refused":
		lc.refusedPl++
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "placements" {
				lc.refused += int(a.Value.Int64())
			}
			if a.Key == "err" && lc.refusal == "" {
				lc.refusal = a.Value.String()
			}
			return true
		})
	}
	if r.Level >= slog.LevelWarn {
		lc.warns++
		if lc.firstWarn == "" {
			var b strings.Builder
			b.WriteString(r.Level.String() + " " + r.Message)
			for _, a := range h.attrs {
				b.WriteString(" " + a.String())
			}
			r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
			lc.firstWarn = b.String()
		}
	}
	return nil
}

func (h countHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countHandler{lc: h.lc, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h countHandler) WithGroup(string) slog.Handler { return h }

// reasonKind shortens a rejection reason to its kind: the text before
// the first parenthesis or digit ("instance changed", "host is full").
func reasonKind(s string) string {
	if i := strings.IndexAny(s, "(0123456789"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
