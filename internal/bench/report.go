package bench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"
)

// row is one measure: with a target it gets PASS or MISS, without one
// it is information ("—").
type row struct {
	measure, target, measured, result string
}

// table is one figure's results and the notes that say how they were got.
type table struct {
	title string
	rows  []row
	notes []string
}

func (t *table) info(measure, measured string) {
	t.rows = append(t.rows, row{measure, "—", measured, "—"})
}

func (t *table) check(measure, target, measured string, ok bool) {
	t.rows = append(t.rows, row{measure, target, measured, verdict(ok)})
}

func (t *table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func (t table) write(w io.Writer) {
	fmt.Fprintf(w, "\n## %s\n\n", t.title)
	fmt.Fprintln(w, "| Measure | Target | Measured | Result |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range t.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.measure, r.target, r.measured, r.result)
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func writeHeader(w io.Writer, e *env, o Options) {
	m := describeMachine(e.dir)
	mode := "full"
	if o.Quick {
		mode = "quick (-quick: small, short runs; a smoke test, not the figures)"
	}
	fmt.Fprintln(w, "# Tashi-Go cluster manager benchmark")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "- Run: %s, %s\n", mode, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "- Machine: %d cores, CPU %q (/proc/cpuinfo), Linux %s, %s/%s, %s\n",
		m.cores, m.model, m.kernel, runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(w, "- Record: %s: durable commits as in production; data directory on %s\n", e.pgInfo, m.storage)
	fmt.Fprintf(w, "- CM: tashi-cm %s, run as a separate process on a fresh database per figure, shipped config defaults (the image store and HOME in the scratch directory); figures run in the order createVm, watch, heartbeats, all on one PostgreSQL\n", e.cmSource)
	fmt.Fprintf(w, "- Load generator: this process, on the same %d cores as the CM and PostgreSQL (it competes with them for CPU)\n", m.cores)
	fmt.Fprintln(w, "- CPU: user+system time from /proc/<pid>/stat (10 ms ticks): the CM process; PostgreSQL = postmaster + its children (live ones, plus cutime/cstime of exited ones); the load generator from getrusage")
	fmt.Fprintln(w, "- Latencies: p50/p99 by nearest rank over every request of the measured run, errors included")
}

// pct is the p-th percentile (0..100) by the nearest-rank method.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}

// dist summarises latencies: p50, p99, max.
type dist struct {
	n             int
	p50, p99, max time.Duration
}

func summarize(lat []time.Duration) dist {
	s := slices.Clone(lat)
	slices.Sort(s)
	d := dist{n: len(s), p50: pct(s, 50), p99: pct(s, 99)}
	if len(s) > 0 {
		d.max = s[len(s)-1]
	}
	return d
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 0 && v > -10, v >= 0 && v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100 && v > -100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func coreShare(v float64) string {
	return fmt.Sprintf("%.3f core (%.1f%% of one core)", v, 100*v)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
