package bench

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/clustermanager/pgembed"
)

// TestQuick runs the whole benchmark program in -quick mode against a real
// PostgreSQL and a real tashi-cm process, and checks that the report has
// its five tables. It keeps the benchmark from rotting; the numbers of a
// quick run mean nothing.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and a cluster manager; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not on PATH: the benchmark builds tashi-cm with it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, progress bytes.Buffer
	start := time.Now()
	err := Run(ctx, Options{Quick: true, Progress: &progress}, &out)
	if errors.Is(err, pgembed.ErrNoBinaries) {
		t.Skipf("PostgreSQL is not installed, run scripts/setup.sh (%v)", err)
	}
	t.Logf("progress:\n%s", progress.String())
	t.Logf("report (%s):\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	report := out.String()
	for _, want := range []string{"## Figure 1: createVm", "## Figure 2: heartbeats", "## Figure 3: watch wake-up",
		"## Figure 4: end-to-end placements", "## Figure 5: activation latency",
		"1 agent, burst: placements/s", "4 agents, burst: placements/s", "createVm return → back end Start entered: p50",
		"fsync=on", "- Machine: ", " cores, CPU "} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(report, "| Measure | Target | Measured | Result |"); n != 5 {
		t.Errorf("report has %d tables, want 5", n)
	}
	if strings.Count(report, "| PASS |")+strings.Count(report, "| MISS |") < 6 {
		t.Errorf("report has fewer than 6 measures with a target and a verdict")
	}
}

func TestOnlyRejectsUnknownFigure(t *testing.T) {
	err := Run(context.Background(), Options{Only: "nosuch"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "createvm") {
		t.Fatalf("Run with -only nosuch: %v; want an error listing the figures", err)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	} {
		if got := pct(tc.in, tc.p); got != tc.want {
			t.Errorf("pct(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestReadStatParsesThisProcess(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if st.ppid != os.Getppid() || st.self < 0 || st.children < 0 {
		t.Errorf("readStat(self) = %+v; want ppid %d and no negative times", st, os.Getppid())
	}
}
