package moosefstest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterLifecycle starts a cluster, pins a file, stops a chunkserver and
// checks that Close leaves no process, mount, link, namespace or directory.
func TestClusterLifecycle(t *testing.T) {
	start := time.Now()
	c := Start(t)
	t.Logf("start-up took %v", time.Since(start))

	cs := c.Chunkservers()
	if len(cs) != 3 {
		t.Fatalf("Chunkservers() = %v, want 3", cs)
	}
	for i, s := range cs {
		if s.Label != Labels[i] || net.ParseIP(s.Addr) == nil || c.Addr(s.Label) != s.Addr {
			t.Errorf("chunkserver %d = %+v: want label %s and an IP address", i, s, Labels[i])
		}
	}
	if err := c.WriteFile("/x/pinned", 1000, "A"); err != nil {
		t.Fatal(err)
	}
	copies, err := validCopies(t.Context(), c.Path("/x/pinned"))
	if err != nil || !slices.Equal(copies[0], []string{c.Addr("A")}) {
		t.Fatalf("copies of /x/pinned = %v, %v; want [[%s]]", copies, err, c.Addr("A"))
	}
	if err := c.WriteFile("/x/bad", 1, "Z"); err == nil || !strings.Contains(err.Error(), "accepted labels") {
		t.Errorf("WriteFile with label Z: err = %v, want one naming the accepted labels", err)
	}
	if err := c.StopChunkserver("A"); err != nil {
		t.Fatal(err)
	}
	if copies, err := validCopies(t.Context(), c.Path("/x/pinned")); err != nil || len(copies[0]) != 0 {
		t.Errorf("copies after stopping A = %v, %v; want none valid", copies, err)
	}

	pids := c.pids()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkGone(t, c, pids)
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func (c *Cluster) pids() []int {
	var pids []int
	for _, d := range append([]*daemon{c.master, c.mount}, valuesOf(c.csDaemons)...) {
		pids = append(pids, d.cmd.Process.Pid)
	}
	return pids
}

func valuesOf(m map[string]*daemon) []*daemon {
	var out []*daemon
	for _, d := range m {
		out = append(out, d)
	}
	return out
}

func checkGone(t *testing.T, c *Cluster, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Close (kill 0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s still exists after Close (%v)", c.dir, err)
	}
	if _, err := net.InterfaceByName(c.net.link); err == nil {
		t.Errorf("veth %s still exists after Close", c.net.link)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", c.net.ns)); err == nil {
		t.Errorf("namespace %s still exists after Close", c.net.ns)
	}
	if out, _ := exec.Command("grep", "-F", c.Mount, "/proc/self/mountinfo").Output(); len(out) > 0 {
		t.Errorf("mount still listed after Close: %s", out)
	}
}
