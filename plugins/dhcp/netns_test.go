package dhcp

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vishvananda/netns"
)

// Test network: a server namespace holding a bridge without an address
// (like a node manager's bridge); the host's own address, also the server
// identifier, sits on lo (this kernel has no dummy links); each client has its
// own namespace, joined to the bridge by a veth.

var linkSeq atomic.Int32

// needRoot skips t unless it runs as root with the named tools.
func needRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// sh runs a command and fails t when it fails.
func sh(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNS creates a named namespace with lo up and its own resolv.conf
// (client scripts must never touch the host's) and removes both at the end.
func newNS(t testing.TB, role string) string {
	t.Helper()
	name := fmt.Sprintf("tdhcp-%s-%d-%04x", role, os.Getpid(), rand.Uint32()&0xffff)
	sh(t, "ip", "netns", "add", name)
	etc := filepath.Join("/etc/netns", name)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", name).Run()
		os.RemoveAll(etc)
	})
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("# test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// inNS runs fn on a thread switched into the namespace called name; the
// sockets fn creates stay in that namespace.
func inNS(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: a thread that failed to switch back dies
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(name)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", name, err)
			return
		}
		err = fn()
		if rerr := netns.Set(orig); rerr != nil {
			err = fmt.Errorf("leave netns %s: %w", name, rerr)
		} else {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

type testNet struct {
	srvNS  string
	bridge string
	table  *Table
	srv    *Server
	conn   *recordConn
}

// recordConn keeps a copy of every packet the server reads.
type recordConn struct {
	net.PacketConn
	mu   sync.Mutex
	seen [][]byte
}

func (c *recordConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.mu.Lock()
		c.seen = append(c.seen, bytes.Clone(b[:n]))
		c.mu.Unlock()
	}
	return n, from, err
}

// mark returns a position in the record of packets for received.
func (n *testNet) mark() int {
	n.conn.mu.Lock()
	defer n.conn.mu.Unlock()
	return len(n.conn.seen)
}

// received returns the parsed packets from mac the server read after mark.
func (n *testNet) received(mark int, mac net.HardwareAddr) []*dhcpv4.DHCPv4 {
	n.conn.mu.Lock()
	defer n.conn.mu.Unlock()
	var out []*dhcpv4.DHCPv4
	for _, b := range n.conn.seen[mark:] {
		if d, err := dhcpv4.FromBytes(b); err == nil && bytes.Equal(d.ClientHWAddr, mac) {
			out = append(out, d)
		}
	}
	return out
}

// newTestNet builds the server namespace and serves table on its bridge.
func newTestNet(t testing.TB, table *Table) *testNet {
	t.Helper()
	n := &testNet{srvNS: newNS(t, "srv"), bridge: "br-guests", table: table}
	sh(t, "ip", "-n", n.srvNS, "link", "add", n.bridge, "type", "bridge", "forward_delay", "0")
	sh(t, "ip", "-n", n.srvNS, "link", "set", n.bridge, "up")
	sh(t, "ip", "-n", n.srvNS, "addr", "add", testServerID.String()+"/32", "dev", "lo")
	var conn net.PacketConn
	if err := inNS(n.srvNS, func() (err error) { conn, err = Listen(n.bridge); return err }); err != nil {
		t.Fatal(err)
	}
	n.conn = &recordConn{PacketConn: conn}
	srv, err := NewWithConn(n.conn, testServerID, table, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return n
}

// addClient makes a client namespace whose interface (returned) has mac and
// is joined to the bridge.
func (n *testNet) addClient(t testing.TB, mac net.HardwareAddr) (ns, ifname string) {
	t.Helper()
	ns = newNS(t, "cli")
	seq := linkSeq.Add(1)
	port, ifname := fmt.Sprintf("vport%d", seq), fmt.Sprintf("vguest%d", seq)
	sh(t, "ip", "-n", n.srvNS, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
	sh(t, "ip", "-n", n.srvNS, "link", "set", port, "master", n.bridge, "up")
	sh(t, "ip", "-n", ns, "link", "set", ifname, "address", mac.String(), "up")
	waitUp(t, n.srvNS, port)
	waitUp(t, ns, ifname)
	return ns, ifname
}

// waitUp waits until a link is operationally up: packets sent before the
// kernel activates its queue are dropped, and a client's first DISCOVER
// would be lost (dhclient then waits seconds before trying again).
func waitUp(t testing.TB, ns, ifname string) {
	t.Helper()
	for range 250 {
		if strings.Contains(sh(t, "ip", "-n", ns, "-o", "link", "show", "dev", ifname), "state UP") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("link %s in %s is not up after 5s", ifname, ns)
}
