package ganglia

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

const (
	gmondPath = "/usr/sbin/gmond"
	gmondMods = "/usr/lib/x86_64-linux-gnu/ganglia" // Debian's module directory
)

// gmondConf is a gmond.conf for one gmond on loopback that sends itself
// the standard metrics every second. %[1]d: udp port, %[2]d: udp port,
// %[3]d: tcp port, %[4]s: module directory.
const gmondConf = `globals {
  daemonize = no
  setuid = no
  debug_level = 0
  max_udp_msg_len = 1472
  mute = no
  deaf = no
  host_dmax = 3600
  cleanup_threshold = 300
  gexec = no
  send_metadata_interval = 2
}
cluster { name = "tashi-test" }
udp_send_channel {
  host = 127.0.0.1
  port = %[1]d
}
udp_recv_channel {
  bind = 127.0.0.1
  port = %[2]d
}
tcp_accept_channel {
  bind = 127.0.0.1
  port = %[3]d
}
modules {
  module { name = "core_metrics" }
  module {
    name = "cpu_module"
    path = "%[4]s/modcpu.so"
  }
  module {
    name = "load_module"
    path = "%[4]s/modload.so"
  }
  module {
    name = "mem_module"
    path = "%[4]s/modmem.so"
  }
  module {
    name = "net_module"
    path = "%[4]s/modnet.so"
  }
}
collection_group {
  collect_every = 1
  time_threshold = 1
  metric { name = "cpu_num" }
  metric { name = "mem_total" }
  metric {
    name = "load_one"
    value_threshold = 0
  }
  metric {
    name = "mem_free"
    value_threshold = 0
  }
  metric {
    name = "bytes_in"
    value_threshold = 0
  }
  metric {
    name = "bytes_out"
    value_threshold = 0
  }
}
`

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startGmond runs gmond in the foreground on loopback ports and returns
// its XML address. The process is killed by PID when the test ends.
func startGmond(t *testing.T) (addr string, exited <-chan struct{}, log *bytes.Buffer) {
	t.Helper()
	for _, p := range []string{gmondPath, filepath.Join(gmondMods, "modload.so")} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs Ganglia's gmond and its modules (Debian package ganglia-monitor): %v", err)
		}
	}
	dir := t.TempDir()
	udp, tcp := freePort(t, "udp"), freePort(t, "tcp")
	conf := filepath.Join(dir, "gmond.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, gmondConf, udp, udp, tcp, gmondMods), 0o644); err != nil {
		t.Fatal(err)
	}
	log = &bytes.Buffer{}
	cmd := exec.Command(gmondPath, "-c", conf, "-f")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gmond: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return fmt.Sprintf("127.0.0.1:%d", tcp), done, log
}

// waitForHost polls gmond until it lists the host at ip with the metrics
// the sensor reads.
func waitForHost(t *testing.T, s *Sensor, ip string, exited <-chan struct{}, log *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(25 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("gmond exited early; its output:\n%s", log)
		case <-time.After(500 * time.Millisecond):
		}
		hosts, err := s.Fetch(context.Background())
		last = err
		if err == nil && hasMetrics(hosts, ip, "load_one", "cpu_num", "mem_free", "mem_total") {
			return
		}
	}
	t.Fatalf("gmond at %s did not list host %s with its metrics in 25s (last error: %v)", s.cfg.Addr, ip, last)
}

func hasMetrics(hosts []Host, ip string, names ...string) bool {
	for _, h := range hosts {
		if h.IP != ip {
			continue
		}
		for _, n := range names {
			if _, ok := h.Metrics[n]; !ok {
				return false
			}
		}
		return true
	}
	return false
}

// TestRealGmond reads this machine's stats from a real gmond.
func TestRealGmond(t *testing.T) {
	addr, exited, log := startGmond(t)
	self, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	s := newSensor(t, Config{Addr: addr, Timeout: 5 * time.Second,
		Match: Match{Map: map[string]string{"127.0.0.1": self}}})
	waitForHost(t, s, "127.0.0.1", exited, log)
	stats, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, ok := stats[self]
	if !ok {
		t.Fatalf("no stats for %s in %+v", self, stats)
	}
	t.Logf("gmond's stats for %s: %+v", self, st)
	if st.Load1 < 0 || st.CPUs != runtime.NumCPU() || st.FreeMemoryMiB <= 0 ||
		st.TotalMemoryMiB < st.FreeMemoryMiB || st.Source != "ganglia" {
		t.Errorf("implausible stats for %s: %+v (NumCPU %d)", self, st, runtime.NumCPU())
	}
	if age := time.Since(st.Reported); age < -time.Minute || age > time.Minute {
		t.Errorf("reported %v, %v from now", st.Reported, age)
	}
}
