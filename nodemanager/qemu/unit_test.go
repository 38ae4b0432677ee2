package qemu

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

func TestParseStat(t *testing.T) {
	// Field 2 may hold spaces and parentheses.
	line := "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 987654 1000 10 18446744073709551615"
	st, err := parseStat(line)
	if err != nil || st.State != 'S' || st.CPUSeconds != 3.8 || st.StartTicks != 987654 {
		t.Fatalf("%+v %v", st, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b 0 0 20 0 1 0 5 1 1"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	self, err := readStat(os.Getpid())
	if err != nil || self.State == 0 || self.StartTicks == 0 {
		t.Fatalf("own stat %+v %v", self, err)
	}
}

func TestParseRSS(t *testing.T) {
	rss, err := parseRSS("Name:\tqemu\nVmPeak:\t  1 kB\nVmRSS:\t  251904 kB\nThreads: 5\n")
	if err != nil || rss != 251904<<10 {
		t.Fatalf("%d %v", rss, err)
	}
	for _, bad := range []string{"", "VmRSS: 12 MB", "VmRSS: x kB"} {
		if _, err := parseRSS(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add("4242 (qemu) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 3 0 987654 1000 10")
	f.Add("1 ())) R")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseStat(s)
		if err == nil && st.CPUSeconds < 0 {
			t.Fatal("negative cpu time")
		}
	})
}

func FuzzCPUFlags(f *testing.F) {
	f.Add(cpuinfoPVM)
	f.Add("flags:vmx\nflags: svm")
	f.Fuzz(func(t *testing.T, s string) {
		for flag := range cpuFlags(s) {
			if flag == "" || strings.ContainsAny(flag, " \t\n") {
				t.Fatalf("bad flag %q", flag)
			}
		}
		decideAccel(hostFacts{CPUInfo: s})
	})
}

func TestIsOurQEMU(t *testing.T) {
	cmd := &exec.Cmd{Path: "/bin/sleep", Args: []string{"/run/x,y/qmp.sock", "30"}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	st, _ := readStat(pid)
	switch {
	case !isOurQEMU(pid, "/run/x,y/qmp.sock", st.StartTicks):
		t.Fatal("own process not recognised")
	case isOurQEMU(pid, "/run/other/qmp.sock", 0):
		t.Fatal("other socket accepted")
	case isOurQEMU(pid, "/run/x,y/qmp.sock", st.StartTicks+1):
		t.Fatal("reused pid (other start time) accepted")
	case isOurQEMU(999999999, "/run/x,y/qmp.sock", 0) || alive(999999999) || alive(0):
		t.Fatal("missing pid accepted")
	}
}

func TestStateOfAndReasons(t *testing.T) {
	for status, want := range map[string]vmm.State{"running": vmm.StateRunning, "paused": vmm.StatePaused,
		"inmigrate": vmm.StateIncoming, "postmigrate": vmm.StatePaused, "finish-migrate": vmm.StateMigrating,
		"prelaunch": vmm.StatePaused, "guest-panicked": vmm.StatePaused} {
		if got := stateOf(status); got != want {
			t.Errorf("%s -> %s, want %s", status, got, want)
		}
	}
	for reason, want := range map[string]string{"guest-shutdown": "shutdown", "guest-reset": "shutdown: the guest rebooted",
		"guest-panic": "crashed: guest panic", "host-signal": "killed", "host-ui": "shutdown: host-ui"} {
		if got := shutdownReason(shutdownData{Reason: reason}); !strings.HasPrefix(got, want) {
			t.Errorf("%s -> %q", reason, got)
		}
	}
}

func TestGzipParallelRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, gzipChunk, 3*gzipChunk + 17} {
		data := payload(max(n, 4))[:n]
		var z bytes.Buffer
		read, members, err := gzipParallel(&z, bytes.NewReader(data), gzip.BestSpeed, 3)
		if err != nil || read != int64(n) {
			t.Fatalf("n=%d: read %d, %v", n, read, err)
		}
		var sum int64
		for _, m := range members {
			sum += m
		}
		if sum != int64(z.Len()) || len(members) != max(1, (n+gzipChunk-1)/gzipChunk) {
			t.Fatalf("n=%d: members %v sum %d, file %d", n, members, sum, z.Len())
		}
		// A plain gzip reader sees one stream.
		zr, err := gzip.NewReader(bytes.NewReader(z.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if back, err := io.ReadAll(zr); err != nil || !bytes.Equal(back, data) {
			t.Fatalf("n=%d: sequential read %d bytes, %v", n, len(back), err)
		}
		var back bytes.Buffer
		if got, err := gunzipParallel(&back, bytes.NewReader(z.Bytes()), members, 2); err != nil || got != int64(n) || !bytes.Equal(back.Bytes(), data) {
			t.Fatalf("n=%d: parallel read %d, %v", n, got, err)
		}
		// And so does gzip(1), which Tashi's tools would use.
		if gz, err := exec.LookPath("gzip"); err == nil && n > 0 {
			cmd := exec.Command(gz, "-dc")
			cmd.Stdin = bytes.NewReader(z.Bytes())
			out, err := cmd.Output()
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("n=%d: gzip -dc: %d bytes, %v", n, len(out), err)
			}
		}
	}
}

func TestGunzipParallelErrors(t *testing.T) {
	var z bytes.Buffer
	_, members, _ := gzipParallel(&z, bytes.NewReader(payload(2*gzipChunk)), gzip.BestSpeed, 2)
	b := z.Bytes()
	if _, err := gunzipParallel(io.Discard, bytes.NewReader(b[:len(b)-10]), members, 2); err == nil {
		t.Fatal("truncated file read")
	}
	bad := append([]byte(nil), b...)
	bad[members[0]+20] ^= 0xff
	if _, err := gunzipParallel(io.Discard, bytes.NewReader(bad), members, 2); err == nil {
		t.Fatal("corrupt member read")
	}
	if _, err := gunzipParallel(io.Discard, bytes.NewReader(b), []int64{-1}, 2); err == nil {
		t.Fatal("negative member size accepted")
	}
}

func TestWriteJSONAtomic(t *testing.T) {
	dir := t.TempDir()
	p := guestDir(dir, 5)
	os.MkdirAll(p.dir, 0o700)
	want := stateFile{Version: 1, InstanceID: 5, PID: 77, Spec: vmm.Spec{InstanceID: 5, MemoryMiB: 96}}
	if err := writeJSONAtomic(p.state(), want); err != nil {
		t.Fatal(err)
	}
	got, err := readState(p.state())
	if err != nil || got.PID != 77 || got.Spec.MemoryMiB != 96 {
		t.Fatalf("%+v %v", got, err)
	}
	ents, _ := os.ReadDir(p.dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	os.WriteFile(p.state(), []byte("{"), 0o600)
	if _, err := readState(p.state()); err == nil {
		t.Fatal("broken state file parsed")
	}
}

// QEMU inherits stdin, stdout and stderr only, even when the node
// manager itself inherited more.
func TestStartProcessInheritsNoDescriptors(t *testing.T) {
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil { // not close-on-exec
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	p := paths{dir: t.TempDir()}
	cmd, err := startProcess([]string{"/bin/sleep", "30"}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		var names []string
		for _, e := range ents {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", cmd.Process.Pid, e.Name()))
			names = append(names, e.Name()+"->"+l)
		}
		t.Fatalf("child has descriptors %v", names)
	}
}
