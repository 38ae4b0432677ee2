package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procStat is what we read from /proc/<pid>/stat.
type procStat struct {
	ppid     int
	self     time.Duration // utime + stime
	children time.Duration // cutime + cstime: children waited for
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// start after the last ')'. Then: state ppid ... utime(14) stime cutime cstime.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	// f[0] is field 3 (state), so field k is f[k-3].
	return procStat{ppid: int(n(1)),
		self:     time.Duration(n(11)+n(12)) * clockTick,
		children: time.Duration(n(13)+n(14)) * clockTick}, nil
}

// processCPU is the CPU time (user + system, all threads) of one process.
func processCPU(pid int) (time.Duration, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, fmt.Errorf("read CPU time of pid %d: %w", pid, err)
	}
	return st.self, nil
}

// serverCPU is the CPU time of a PostgreSQL server: the postmaster, the
// children it has already reaped (cutime + cstime: backends and
// autovacuum workers that exited), and its live children. The difference
// of two readings is exact for children that start or exit in between.
func serverCPU(postmaster int) (time.Duration, error) {
	pm, err := readStat(postmaster)
	if err != nil {
		return 0, fmt.Errorf("read CPU time of the postmaster %d: %w", postmaster, err)
	}
	total := pm.self + pm.children
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == postmaster {
			total += st.self
		}
	}
	return total, nil
}

// selfCPU is this process's CPU time: the load generator's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time of every task on the machine, kernel
// threads included: for each process its own time and that of the
// children it has reaped. Summed the same way as ours, so that the
// difference of two readings minus ours is what other processes used.
func machineBusy() time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			total += st.self + st.children
		}
	}
	return total
}

// cpuReading is one look at the CPU used so far by the CM, PostgreSQL,
// this process, and the whole machine.
type cpuReading struct {
	at                  time.Time
	cm, pg, lg, machine time.Duration
}

func readCPU(cmPID, postmaster int) (cpuReading, error) {
	r := cpuReading{at: time.Now(), lg: selfCPU(), machine: machineBusy()}
	var err error
	if r.cm, err = processCPU(cmPID); err != nil {
		return r, err
	}
	r.pg, err = serverCPU(postmaster)
	return r, err
}

// cpuUse is what was used between two readings.
type cpuUse struct {
	wall                time.Duration
	cm, pg, lg, machine time.Duration
}

func (a cpuReading) to(b cpuReading) cpuUse {
	return cpuUse{wall: b.at.Sub(a.at), cm: b.cm - a.cm, pg: b.pg - a.pg, lg: b.lg - a.lg, machine: b.machine - a.machine}
}

// others is what the rest of the machine used meanwhile: processes not
// part of the benchmark, and the kernel's own threads.
func (u cpuUse) others() time.Duration { return max(0, u.machine-u.cm-u.pg-u.lg) }

// disturbedAbove is how much CPU other processes may take before a
// figure is marked as disturbed.
const disturbedAbove = 0.15 // of one core

// contention says how busy the machine was, for the notes.
func (u cpuUse) contention() string {
	s := fmt.Sprintf("the machine was busy %.2f of %d cores on average; processes outside the benchmark (and kernel threads) used %.2f core",
		u.cores(u.machine), runtime.NumCPU(), u.cores(u.others()))
	if u.cores(u.others()) > disturbedAbove {
		s += " (**DISTURBED**: other load shared the cores; rerun on a quiet machine before trusting these numbers)"
	}
	return s
}

// cores turns CPU time into a share of one core over the wall time.
func (u cpuUse) cores(d time.Duration) float64 {
	if u.wall <= 0 {
		return 0
	}
	return d.Seconds() / u.wall.Seconds()
}

// machine describes where the numbers come from.
type machine struct {
	cores   int
	model   string
	kernel  string
	storage string // file system and device of the scratch directory
}

func describeMachine(dir string) machine {
	m := machine{cores: runtime.NumCPU(), model: cpuModel(), storage: mountOf(dir)}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown (no model name in /proc/cpuinfo)"
}

// mountOf names the file system holding path, from /proc/mounts.
func mountOf(path string) string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	path, _ = filepath.EvalSymlinks(path)
	best, desc := "", "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		under := path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")
		if under && len(mp) > len(best) {
			best, desc = mp, fmt.Sprintf("%s on %s (mounted at %s)", f[2], f[0], mp)
		}
	}
	return desc
}
