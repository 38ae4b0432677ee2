package netsetup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lab is one test's namespaces, handles and name prefix. Nothing is made in
// the test process's own namespace: namespaces are anonymous, so closing
// their last handle destroys them with every link inside.
type lab struct {
	t       *testing.T
	pfx     string // unique per test, e.g. "qzk"
	handles map[netns.NsHandle]*netlink.Handle
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("netsetup: needs root to make network namespaces, bridges, vxlan and tap devices")
	}
	b := []byte{byte('a' + rand.IntN(26)), byte('a' + rand.IntN(26)), byte('a' + rand.IntN(26))}
	return &lab{t: t, pfx: string(b), handles: map[netns.NsHandle]*netlink.Handle{}}
}

// ns makes an anonymous network namespace with lo up.
func (l *lab) ns() netns.NsHandle {
	l.t.Helper()
	ch := make(chan error, 1)
	var ns netns.NsHandle
	go func() { ch <- newNSLocked(&ns) }()
	if err := <-ch; err != nil {
		l.t.Fatalf("make network namespace: %v", err)
	}
	l.t.Cleanup(func() { ns.Close() })
	h := l.nl(ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		l.t.Fatalf("bring lo up: %v", err)
	}
	return ns
}

// newNSLocked unshares a namespace on a locked thread and switches back;
// the thread stays locked (and dies) if it cannot.
func newNSLocked(out *netns.NsHandle) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		return err
	}
	if err := netns.Set(orig); err != nil {
		ns.Close()
		return err
	}
	runtime.UnlockOSThread()
	*out = ns
	return nil
}

// nl is a netlink handle in ns, closed at the end.
func (l *lab) nl(ns netns.NsHandle) *netlink.Handle {
	l.t.Helper()
	if h := l.handles[ns]; h != nil {
		return h
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		l.t.Fatalf("netlink handle: %v", err)
	}
	l.handles[ns] = h
	l.t.Cleanup(h.Close)
	return h
}

// host is a Host in ns with the lab's prefixes. At the end it sweeps
// everything and checks that nothing of it is left.
func (l *lab) host(ns netns.NsHandle, local net.IP, uplink string) *Host {
	l.t.Helper()
	h, err := New(l.config(ns, local, uplink))
	if err != nil {
		l.t.Fatalf("New: %v", err)
	}
	l.t.Cleanup(func() {
		defer h.Close()
		if _, err := h.Sweep(func(int64) bool { return false }); err != nil {
			l.t.Errorf("final sweep: %v", err)
		}
		if left, err := h.Networks(); err != nil || len(left) > 0 {
			l.t.Errorf("after the final sweep: %+v, %v", left, err)
		}
	})
	return h
}

func (l *lab) config(ns netns.NsHandle, local net.IP, uplink string) Config {
	log := slog.New(slog.NewTextHandler(testWriter{l.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return Config{
		BridgePrefix: l.pfx + "b", VXLANPrefix: l.pfx + "x", VLANPrefix: l.pfx + "v", TapPrefix: l.pfx + "t",
		NS: ns, Local: local, Uplink: uplink, Log: log,
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// veth makes a veth pair in ns: name there, peer in peerNS.
func (l *lab) veth(ns netns.NsHandle, name string, peerNS netns.NsHandle, peer string) {
	l.t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(peerNS)}
	if err := l.nl(ns).LinkAdd(v); err != nil {
		l.t.Fatalf("make veth %s/%s: %v", name, peer, err)
	}
}

// up brings a link up with addresses (CIDR notation) and an MTU (0: keep).
func (l *lab) up(ns netns.NsHandle, name string, mtu int, addrs ...string) {
	l.t.Helper()
	h := l.nl(ns)
	link, err := h.LinkByName(name)
	if err != nil {
		l.t.Fatalf("find %s: %v", name, err)
	}
	for _, a := range addrs {
		addr, err := netlink.ParseAddr(a)
		if err == nil {
			err = h.AddrAdd(link, addr)
		}
		if err != nil {
			l.t.Fatalf("address %s on %s: %v", a, name, err)
		}
	}
	if mtu > 0 {
		if err := h.LinkSetMTU(link, mtu); err != nil {
			l.t.Fatalf("mtu of %s: %v", name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		l.t.Fatalf("bring %s up: %v", name, err)
	}
}

// guest is a namespace standing in for a VM: its eth0 (with addrs) is the
// peer of hostEnd in the host namespace, attached to network n.
func (l *lab) guest(host *Host, hostNS netns.NsHandle, n Network, hostEnd string, addrs ...string) netns.NsHandle {
	l.t.Helper()
	g := l.ns()
	l.veth(hostNS, hostEnd, g, "eth0")
	l.up(g, "eth0", n.mtu(), addrs...)
	if err := host.AttachLink(n, hostEnd); err != nil {
		l.t.Fatalf("AttachLink %s: %v", hostEnd, err)
	}
	return g
}

// linkNames lists the links in ns, sorted.
func (l *lab) linkNames(ns netns.NsHandle) []string {
	l.t.Helper()
	links, err := l.nl(ns).LinkList()
	if err != nil {
		l.t.Fatalf("list links: %v", err)
	}
	var out []string
	for _, k := range links {
		out = append(out, k.Attrs().Name)
	}
	slices.Sort(out)
	return out
}

// link finds a link in ns, failing the test if it is missing.
func (l *lab) link(ns netns.NsHandle, name string) netlink.Link {
	l.t.Helper()
	k, err := l.nl(ns).LinkByName(name)
	if err != nil {
		l.t.Fatalf("find %s: %v", name, err)
	}
	return k
}

// absent fails the test if a link named name exists in ns.
func (l *lab) absent(ns netns.NsHandle, name string) {
	l.t.Helper()
	if k, err := l.nl(ns).LinkByName(name); err == nil {
		l.t.Errorf("link %s (%s) should not exist", name, k.Type())
	}
}

// ping sends one ICMP echo from namespace ns to dst and waits for the
// reply; it needs no ping binary.
func ping(ns netns.NsHandle, dst string, timeout time.Duration) error {
	var conn net.PacketConn
	err := inNS(ns, func() (err error) {
		conn, err = net.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	})
	if err != nil {
		return fmt.Errorf("open icmp socket: %w", err)
	}
	defer conn.Close()
	id, seq := uint16(rand.IntN(1<<16)), uint16(rand.IntN(1<<16))
	to := &net.IPAddr{IP: net.ParseIP(dst)}
	if _, err := conn.WriteTo(echoRequest(id, seq), to); err != nil {
		return fmt.Errorf("send echo to %s: %w", dst, err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("wait for echo reply from %s: %w", dst, err)
		}
		if isEchoReply(buf[:n], id, seq) && from.(*net.IPAddr).IP.Equal(to.IP) {
			return nil
		}
	}
}

func echoRequest(id, seq uint16) []byte {
	b := []byte{8, 0, 0, 0, 0, 0, 0, 0, 't', 'a', 's', 'h', 'i'}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	binary.BigEndian.PutUint16(b[2:], icmpChecksum(b))
	return b
}

func isEchoReply(b []byte, id, seq uint16) bool {
	return len(b) >= 8 && b[0] == 0 && b[1] == 0 &&
		binary.BigEndian.Uint16(b[4:]) == id && binary.BigEndian.Uint16(b[6:]) == seq
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// reaches fails the test unless ns reaches dst within a few tries.
func (l *lab) reaches(what string, ns netns.NsHandle, dst string) {
	l.t.Helper()
	var err error
	start := time.Now()
	for range 4 {
		if err = ping(ns, dst, time.Second); err == nil {
			l.t.Logf("%s: ping %s answered in %v", what, dst, time.Since(start).Round(time.Millisecond))
			return
		}
	}
	l.t.Errorf("%s: ping %s: %v", what, dst, err)
}

// isolated fails the test if ns reaches dst.
func (l *lab) isolated(what string, ns netns.NsHandle, dst string) {
	l.t.Helper()
	for range 1 {
		err := ping(ns, dst, time.Second)
		if err == nil {
			l.t.Errorf("%s: ping %s answered; want no reply", what, dst)
			return
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			l.t.Logf("%s: ping %s: %v", what, dst, err)
		}
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
