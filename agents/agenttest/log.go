package agenttest

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// logs keeps every component's log lines in memory; on a failed test
// the last lines are printed (all of them with TASHI_TEST_LOG=1, live).
type logs struct {
	t    testing.TB
	live bool
	mu   sync.Mutex
	all  []string
}

const keepLines = 20000

func newLogs(t testing.TB) *logs {
	l := &logs{t: t, live: os.Getenv("TASHI_TEST_LOG") == "1"}
	t.Cleanup(func() {
		if t.Failed() && !l.live {
			l.mu.Lock()
			defer l.mu.Unlock()
			from := max(0, len(l.all)-400)
			t.Logf("last %d log lines of the agents, node managers and back ends:\n%s",
				len(l.all)-from, strings.Join(l.all[from:], "\n"))
		}
	})
	return l
}

func (l *logs) add(who, line string) {
	line = who + ": " + strings.TrimRight(line, "\n")
	if l.live {
		fmt.Fprintln(os.Stderr, line)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, line)
	if len(l.all) > keepLines {
		l.all = append(l.all[:0], l.all[len(l.all)-keepLines/2:]...)
	}
}

// Lines returns the kept lines that contain every one of subs.
func (l *logs) Lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, line := range l.all {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// writer is an io.Writer of one component's lines.
type writer struct {
	l   *logs
	who string
}

func (w writer) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.l.add(w.who, line)
	}
	return len(p), nil
}

func (l *logs) logger(who string) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{l, who}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
