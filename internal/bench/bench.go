package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Figure names, as -only takes them.
const (
	FigCreateVM   = "createvm"
	FigHeartbeat  = "heartbeat"
	FigWatch      = "watch"
	FigPlacement  = "placement"
	FigActivation = "activation"
)

// Figures lists the figures in the order they are reported.
var Figures = []string{FigCreateVM, FigHeartbeat, FigWatch, FigPlacement, FigActivation}

// runOrder runs the latency-sensitive watch and activation figures before
// the heartbeat figure, whose 100,000 rows leave autovacuum work behind,
// and the placement figure (tens of thousands of rows written and
// deleted) last, so that its leftovers disturb no other figure.
var runOrder = []string{FigCreateVM, FigWatch, FigActivation, FigHeartbeat, FigPlacement}

// Options say what to run.
type Options struct {
	Quick    bool      // small, short runs: a smoke test
	Only     string    // one of Figures; "" runs them all
	CMBinary string    // a prebuilt tashi-cm; "" builds one from this module
	Progress io.Writer // progress lines; nil discards them
}

// sizes are the knobs of every figure; full and quick differ only here.
type sizes struct {
	createClients  int
	createRequests int
	createWarmup   int

	hbHosts   int
	hbVMs     int           // VMs per host
	hbPeriod  time.Duration // each host reports this often
	hbWindow  time.Duration // measured window
	hbColdFor time.Duration // the first round (every host once), paced over this
	hbWorkers int           // sending goroutines, each with its own connection

	watchRounds int
	watchWarmup int

	placeHosts   int           // simulated hosts, registered through the API
	placeBatches int           // createMany requests per run
	placeBatch   int           // instances per createMany
	placeLoaders int           // goroutines sending them
	placeAgents  []int         // one run per entry: this many agents
	placeLimit   time.Duration // a run fails if instances are still Pending after this

	actRounds     int
	actWarmup     int
	actDiagRounds int // diagnostic rounds with a persistent disk
}

func sizesFor(quick bool) sizes {
	s := sizes{createClients: 32, createRequests: 5000, createWarmup: 320,
		hbHosts: 10000, hbVMs: 10, hbPeriod: 10 * time.Second, hbWindow: 30 * time.Second,
		hbColdFor: 10 * time.Second, hbWorkers: 64, watchRounds: 200, watchWarmup: 10,
		placeHosts: 10000, placeBatches: 20, placeBatch: 500, placeLoaders: 4, placeAgents: []int{1, 4},
		placeLimit: 5 * time.Minute, actRounds: 100, actWarmup: 5, actDiagRounds: 20}
	if quick {
		s.createRequests, s.createWarmup = 500, 64
		s.hbHosts, s.hbWindow, s.hbColdFor = 1000, 5*time.Second, time.Second
		s.watchRounds, s.watchWarmup = 20, 3
		s.placeHosts, s.placeBatches, s.placeLimit = 1000, 2, time.Minute
		s.actRounds, s.actWarmup, s.actDiagRounds = 20, 2, 5
	}
	return s
}

// Main is tashi-bench's command line; it returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tashi-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "small, short runs (a smoke test)")
	only := fs.String("only", "", "run one figure: "+strings.Join(Figures, "|"))
	cm := fs.String("cm", "", "benchmark this tashi-cm `binary` instead of building one from the module")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o := Options{Quick: *quick, Only: *only, CMBinary: *cm, Progress: stderr}
	if err := Run(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "tashi-bench:", err)
		return 1
	}
	return 0
}

// Run sets up PostgreSQL and the CM binary, runs the chosen figures and
// writes the report to w. It stops and removes everything it started.
func Run(ctx context.Context, o Options, w io.Writer) (err error) {
	if o.Only != "" && !slices.Contains(Figures, o.Only) {
		return fmt.Errorf("-only %q is not a figure; accepted: %s", o.Only, strings.Join(Figures, ", "))
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	e, err := newEnv(ctx, o)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, e.close()) }()
	writeHeader(w, e, o)
	done := map[string]table{}
	defer func() {
		for _, fig := range Figures {
			if t, ok := done[fig]; ok {
				t.write(w)
			}
		}
	}()
	sz := sizesFor(o.Quick)
	for _, fig := range runOrder {
		if o.Only != "" && o.Only != fig {
			continue
		}
		t, err := runFigure(ctx, e, fig, sz)
		if err != nil {
			return fmt.Errorf("figure %s: %w", fig, err)
		}
		done[fig] = t
	}
	return nil
}

func runFigure(ctx context.Context, e *env, fig string, sz sizes) (table, error) {
	e.progress("figure %s: starting", fig)
	switch fig {
	case FigCreateVM:
		return runCreateVM(ctx, e, sz)
	case FigHeartbeat:
		return runHeartbeat(ctx, e, sz)
	case FigPlacement:
		return runPlacement(ctx, e, sz)
	case FigActivation:
		return runActivation(ctx, e, sz)
	default:
		return runWatch(ctx, e, sz)
	}
}
