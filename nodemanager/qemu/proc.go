package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procStat is what we read from /proc/<pid>/stat.
type procStat struct {
	State      byte    // R, S, Z, ...
	CPUSeconds float64 // utime + stime
	StartTicks uint64  // start time since boot, in clock ticks
}

// parseStat parses the text of /proc/<pid>/stat. The command name may
// hold spaces and parentheses, so fields are counted after the last ')'.
func parseStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("no ')' in stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime, stime are 14, 15; starttime is 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("stat has %d fields after the name", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("stat: %w", err)
	}
	return procStat{State: f[0][0], CPUSeconds: float64(ut+st) / clockTicks, StartTicks: start}, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// parseRSS returns VmRSS in bytes from the text of /proc/<pid>/status.
func parseRSS(s string) (int64, error) {
	for _, line := range strings.Split(s, "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("odd VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		return kb << 10, err
	}
	return 0, errors.New("no VmRSS line")
}

func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseRSS(string(b))
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// isOurQEMU reports whether pid is still the QEMU we started: alive, its
// command line names our QMP socket, and (when recorded) it started at
// the same tick. This guards kill and re-attach against reused pids.
func isOurQEMU(pid int, qmpSocket string, startTicks uint64) bool {
	st, err := readStat(pid)
	if err != nil || st.State == 'Z' || st.State == 'X' {
		return false
	}
	if startTicks != 0 && st.StartTicks != startTicks {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	// QEMU's -qmp argument holds the path with commas doubled.
	for _, arg := range bytes.Split(b, []byte{0}) {
		if bytes.Contains(arg, []byte(optValue(qmpSocket))) || bytes.Contains(arg, []byte(qmpSocket)) {
			return true
		}
	}
	return false
}

// signal sends sig to pid if it is still our QEMU.
func signalOurs(pid int, qmpSocket string, startTicks uint64, sig syscall.Signal) error {
	if !isOurQEMU(pid, qmpSocket, startTicks) {
		return nil // gone, or the pid now belongs to someone else
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to pid %d: %w", sig, pid, err)
	}
	return nil
}

// closeInheritedOnExec marks every descriptor above stderr close-on-exec.
// Descriptors Go opens already are; this catches the ones the node
// manager inherited (say a pipe of whoever started it), which QEMU would
// otherwise hold open for as long as the guest lives.
func closeInheritedOnExec() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}
