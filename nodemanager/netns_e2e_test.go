package nodemanager_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/qemu"
)

// nsHost is a node manager process in a network namespace of its own,
// acting as one host: its underlay address is on a veth whose other end
// is on a bridge in the test's namespace (the "switch").
type nsHost struct {
	name, ns, addr string
	runDir         string
	cmd            *exec.Cmd
	log            string
}

// underlay is the switch joining the host namespaces, and a forwarder
// from the switch's address to the CM (which listens on loopback).
type underlay struct {
	bridge, prefix string // 10.252.K
	cmAddr         string // host:port the node managers use
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newUnderlay(t *testing.T, c *cluster) *underlay {
	u := &underlay{bridge: "tu" + short(), prefix: fmt.Sprintf("10.252.%d", 1+randByte()%250)}
	ipCmd(t, "link", "add", u.bridge, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", u.bridge).Run() })
	ipCmd(t, "addr", "add", u.prefix+".254/24", "dev", u.bridge)
	ipCmd(t, "link", "set", u.bridge, "up")
	ln, err := net.Listen("tcp", u.prefix+".254:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	u.cmAddr = ln.Addr().String()
	go forward(ln, strings.TrimPrefix(c.cm.URL, "http://"))
	return u
}

// forward copies every connection accepted on ln to target.
func forward(ln net.Listener, target string) {
	for {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer out.Close()
			go func() { _, _ = io.Copy(out, in); out.Close() }() // either side ending ends both
			_, _ = io.Copy(in, out)
		}()
	}
}

// startNSHost makes host i's namespace and starts tashi-nm in it.
func (u *underlay) startNSHost(t *testing.T, c *cluster, nmBin string, i int) *nsHost {
	h := &nsHost{name: fmt.Sprintf("h%d", i), ns: fmt.Sprintf("tn%s%d", short(), i), addr: fmt.Sprintf("%s.%d", u.prefix, i)}
	root, inner := fmt.Sprintf("tv%s%d", short(), i), "up0"
	ipCmd(t, "netns", "add", h.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", h.ns).Run() })
	ipCmd(t, "link", "add", root, "type", "veth", "peer", "name", inner, "netns", h.ns)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", root).Run() })
	ipCmd(t, "link", "set", root, "master", u.bridge, "up")
	ipCmd(t, "-n", h.ns, "addr", "add", h.addr+"/24", "dev", inner)
	ipCmd(t, "-n", h.ns, "link", "set", inner, "up")
	ipCmd(t, "-n", h.ns, "link", "set", "lo", "up")
	if _, err := c.cm.Admin.AddHost(ctx, api.AddHostRequest{Name: h.name}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	h.runDir, h.log = filepath.Join(dir, "run"), filepath.Join(dir, "nm.log")
	tok := filepath.Join(dir, "token")
	cmHost, cmPort, _ := net.SplitHostPort(u.cmAddr)
	cfg := fmt.Sprintf(`[Client]
clusterManagerHost = %s
clusterManagerPort = %s
[NodeManagerService]
port = 9883
registerFrequency = 1
[NodeManager]
hostName = %s
listenAddress = %s
advertise = %s:9883
tokenFile = %s
runDir = %s
tunnelAddress = %s
reservedMem = 0
bridgePrefix = %sb
tapPrefix = %st
[Security]
pkiDir = %s
[Vfs]
prefix = %s
`, cmHost, cmPort, h.name, h.addr, h.addr, tok, h.runDir, h.addr, c.brPfx, c.tapPfx, c.pkiDir, c.prefix)
	cfgFile := filepath.Join(dir, "nm.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte(c.nmTok), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(h.log)
	if err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command("ip", "netns", "exec", h.ns, nmBin, "-config", cfgFile)
	h.cmd.Stdout, h.cmd.Stderr = logf, logf
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.stop(t); logf.Close() })
	return h
}

// stop ends the node manager (by PID), then its guests, which outlive it
// by design, through a driver on its run directory.
func (h *nsHost) stop(t *testing.T) {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		_ = h.cmd.Wait()
	}
	drv, err := qemu.New(qemu.Config{RunDir: h.runDir}, slog.New(slog.DiscardHandler))
	if err != nil {
		return
	}
	guests, _ := drv.Recover(context.Background())
	for _, g := range guests {
		_ = drv.Destroy(context.Background(), g.InstanceID)
	}
	_ = drv.Close()
	if t.Failed() {
		b, _ := os.ReadFile(h.log)
		t.Logf("%s node manager log:\n%s", h.name, b)
	}
}

// exec runs a command inside the host's namespace.
func (h *nsHost) exec(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.ns}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func buildNM(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "tashi-nm")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/tashi-go/tashi/cmd/tashi-nm").CombinedOutput()
	if err != nil {
		t.Fatalf("build tashi-nm: %v: %s", err, out)
	}
	return bin
}

// guestReady waits for the guest's readiness line and returns the
// address it says it has.
func (h *nsHost) guestReady(t *testing.T, id int64, limit time.Duration) string {
	t.Helper()
	return readyLine(t, filepath.Join(h.runDir, fmt.Sprint(id), "serial.log"), limit)
}

// guestPing asks the guest at ip (through its host's namespace) to ping
// target by name or address; it answers "ok ADDRESS" or "fail ...".
func (h *nsHost) guestPing(ip, target string) string {
	out, err := h.exec("curl", "-sS", "-m", "8", "http://"+ip+"/cgi-bin/ping?host="+target)
	if err != nil {
		return "fail curl: " + out + ": " + err.Error()
	}
	return out
}

// pingUntil retries guestPing until it says ok or the time is up.
func (h *nsHost) pingUntil(ip, target string, limit time.Duration) (string, bool) {
	var out string
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if out = h.guestPing(ip, target); strings.HasPrefix(out, "ok ") {
			return out, true
		}
	}
	return out, false
}

func netSpec(name, network, host string) api.InstanceSpec {
	s := tinySpec(name, "")
	s.NICs = []api.NIC{{Network: network}}
	s.Hints = map[string]string{"targetHost": host}
	return s
}

// TestNetworksAcrossHosts runs two node managers in namespaces of their
// own (two hosts) with two VXLAN networks: guests of network a on
// different hosts get the record's addresses from our DHCP and ping each
// other by DNS name; a guest of network b reaches neither; dig gets A and
// PTR answers from the node manager's DNS server.
func TestNetworksAcrossHosts(t *testing.T) {
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig is not installed; run scripts/setup.sh")
	}
	c := newCluster(t)
	nmBin := buildNM(t)
	u := newUnderlay(t, c)
	h1, h2 := u.startNSHost(t, c, nmBin, 1), u.startNSHost(t, c, nmBin, 2)
	k := strings.TrimPrefix(u.prefix, "10.252.")
	vni := 5000 + int(short()[1])
	var netA api.Network
	for _, n := range []api.Network{
		{Name: "a", Kind: "vxlan", SegmentID: vni, CIDR: "10.61." + k + ".0/24", Gateway: "10.61." + k + ".1", Domain: "a.test"},
		{Name: "b", Kind: "vxlan", SegmentID: vni + 1, CIDR: "10.62." + k + ".0/24", Gateway: "10.62." + k + ".1", Domain: "b.test"},
	} {
		got, err := c.cm.Admin.AddNetwork(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if n.Name == "a" {
			netA = got
		}
	}
	c.waitHostsUp(2, time.Minute)
	type vm struct {
		name string
		host *nsHost
		net  string
		in   api.Instance
		ip   string
	}
	vms := []*vm{{name: "a1", host: h1, net: "a"}, {name: "a2", host: h2, net: "a"}, {name: "b1", host: h2, net: "b"}}
	start := time.Now()
	for _, v := range vms {
		if _, err := c.user.CreateVM(ctx, netSpec(v.name, v.net, v.host.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range vms {
		v.in = c.waitState(v.name, api.Running, 3*time.Minute)
		if v.in.HostName != v.host.name {
			t.Fatalf("%s runs on %s, want %s", v.name, v.in.HostName, v.host.name)
		}
		got := v.host.guestReady(t, v.in.ID, 3*time.Minute)
		if got != v.in.NICs[0].IP {
			t.Fatalf("%s says DHCP gave it %s; the record says %s", v.name, got, v.in.NICs[0].IP)
		}
		v.ip = got
	}
	a1, a2, b1 := vms[0], vms[1], vms[2]
	out, ok := a1.host.pingUntil(a1.ip, "a2.a.test", time.Minute)
	if !ok || out != "ok "+a2.ip {
		t.Fatalf("a1 (on h1) ping a2.a.test: %q; want ok %s", out, a2.ip)
	}
	byName := time.Since(start)
	t.Logf("createVm of 3 guests -> a1 pings a2 by name across hosts: %s", byName.Round(time.Millisecond))
	if os.Getenv("TASHI_BENCH") != "" {
		fmt.Printf("\n| createVm -> guest answers ping by name (2 hosts in namespaces, VXLAN, TCG) | value |\n|---|---|\n"+
			"| a1, a2, b1 created at once; a1 (h1) pings a2.a.test (h2) | %s |\n| load average | %s |\n\n",
			byName.Round(time.Millisecond), loadAvg())
	}
	if out, ok := a2.host.pingUntil(a2.ip, "a1", 30*time.Second); !ok || out != "ok "+a1.ip {
		t.Fatalf("a2 (on h2) ping a1 (search domain from DHCP): %q; want ok %s", out, a1.ip)
	}
	for _, target := range []string{a1.ip, a2.ip} {
		if out := b1.host.guestPing(b1.ip, target); !strings.HasPrefix(out, "fail") {
			t.Errorf("b1 (network b) reached %s on network a: %q", target, out)
		}
	}
	if out := b1.host.guestPing(b1.ip, "10.62."+k+".1"); !strings.HasPrefix(out, "ok") {
		t.Errorf("b1 cannot reach its own gateway: %q", out)
	}
	gw := "10.61." + k + ".1"
	if out, err := h1.exec("dig", "+short", "+time=2", "@"+gw, "a2.a.test"); err != nil || out != a2.ip {
		t.Errorf("dig a2.a.test at h1's gateway: %q %v; want %s", out, err, a2.ip)
	}
	if out, err := h1.exec("dig", "+short", "+time=2", "@"+gw, "-x", a2.ip); err != nil || out != "a2.a.test." {
		t.Errorf("dig -x %s at h1's gateway: %q %v; want a2.a.test.", a2.ip, out, err)
	}
	gwB := "10.62." + k + ".1"
	if out, err := h2.exec("dig", "+short", "+time=2", "@"+gwB, "-x", b1.ip); err != nil || out != "b1.b.test." {
		t.Errorf("dig -x %s at network b's gateway: %q %v; want b1.b.test.", b1.ip, out, err)
	}
	// Each gateway answers its own network's names only.
	if out, _ := h2.exec("dig", "+time=2", "@"+gwB, "a2.a.test"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("network b's gateway answered a name of network a:\n%s", out)
	}
	// Destroy frees the address and the name.
	if _, err := c.user.Act(ctx, "a2", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	c.waitGone("a2", time.Minute)
	// a2 was network a's last guest on h2: its bridge and VXLAN device go.
	bridgeA := fmt.Sprintf("%sb%d", c.brPfx, netA.ID)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := h2.exec("ip", "link", "show", bridgeA); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bridge %s of network a is still on h2 after its last guest left", bridgeA)
		}
	}
	if _, err := h1.exec("ip", "link", "show", bridgeA); err != nil {
		t.Fatalf("bridge %s of network a is gone from h1, where a1 still runs: %v", bridgeA, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, _ := h1.exec("dig", "+short", "+time=2", "@"+gw, "a2.a.test")
		if out == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a2.a.test still answers %q after destroy", out)
		}
	}
}

// waitHostsUp waits until n hosts are up in the record.
func (c *cluster) waitHostsUp(n int, limit time.Duration) {
	c.t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		hosts, err := c.cm.Admin.Hosts(ctx)
		up := 0
		for _, h := range hosts {
			if h.Up {
				up++
			}
		}
		if err == nil && up >= n {
			return
		}
	}
	c.t.Fatalf("fewer than %d hosts came up in %s", n, limit)
}

// waitGone waits until ref is no longer in the record.
func (c *cluster) waitGone(ref string, limit time.Duration) {
	c.t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err := c.user.Instance(ctx, ref); api.IsCode(err, api.CodeNotFound) {
			return
		}
	}
	c.t.Fatalf("%s still in the record after %s", ref, limit)
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
