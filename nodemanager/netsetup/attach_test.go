package netsetup

import (
	"errors"
	"net"
	"os"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func TestAttachTap(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	n := vxNet(4, 400)
	if _, err := h.EnsureNetwork(n, nil); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	tap, err := h.TapName(42, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := h.AttachTap(n, tap); err != nil {
			t.Fatalf("AttachTap: %v", err)
		}
	}
	br := l.link(ns, l.pfx+"b4")
	tt, ok := l.link(ns, tap).(*netlink.Tuntap)
	if !ok {
		t.Fatalf("%s is a %s, not a tun device", tap, l.link(ns, tap).Type())
	}
	if tt.Mode != netlink.TUNTAP_MODE_TAP || tt.Flags&(netlink.TUNTAP_NO_PI|netlink.TUNTAP_VNET_HDR) != netlink.TUNTAP_NO_PI|netlink.TUNTAP_VNET_HDR ||
		tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 || tt.NonPersist {
		t.Errorf("tap %s: mode %v flags %#x non-persist %v; want a persistent single-queue tap, no_pi, vnet_hdr", tap, tt.Mode, tt.Flags, tt.NonPersist)
	}
	if tt.MasterIndex != br.Attrs().Index || tt.MTU != 1450 || tt.RawFlags&unix.IFF_UP == 0 {
		t.Errorf("tap %s: master %d mtu %d flags %#x; want master %d, mtu 1450, up", tap, tt.MasterIndex, tt.MTU, tt.RawFlags, br.Attrs().Index)
	}
	if _, err := netlink.LinkByName(tap); err == nil {
		t.Errorf("tap %s exists in the test's own namespace too", tap)
	}
	if err := openLikeQEMU(ns, tap); err != nil {
		t.Errorf("open %s as QEMU does: %v", tap, err)
	}
}

// openLikeQEMU opens the tap by name with the flags QEMU's tap backend uses.
func openLikeQEMU(ns netns.NsHandle, name string) error {
	return inNS(ns, func() error {
		f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		var req [unix.IFNAMSIZ + 64]byte
		copy(req[:], name)
		*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0])))
		if errno != 0 {
			return errno
		}
		return nil
	})
}

func TestAttachFailures(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	n := vxNet(6, 600)
	tap, _ := h.TapName(1, 0)
	if err := h.AttachTap(n, tap); !errors.Is(err, ErrNoNetwork) {
		t.Errorf("AttachTap before EnsureNetwork: %v; want ErrNoNetwork", err)
	}
	l.absent(ns, tap)
	if _, err := h.EnsureNetwork(n, nil); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	// A veth holding the tap's name: refused, untouched, nothing made.
	l.veth(ns, tap, ns, l.pfx+"peer")
	before := l.linkNames(ns)
	if err := h.AttachTap(n, tap); !errors.Is(err, ErrConflict) {
		t.Errorf("AttachTap onto a veth's name: %v; want ErrConflict", err)
	}
	if got := l.linkNames(ns); !slices.Equal(got, before) {
		t.Errorf("links %v; want %v", got, before)
	}
	if k := l.link(ns, tap); k.Attrs().MasterIndex != 0 {
		t.Errorf("the veth was attached to index %d", k.Attrs().MasterIndex)
	}
	if err := h.AttachLink(n, l.pfx+"none"); err == nil {
		t.Errorf("AttachLink of a missing link succeeded")
	}
	if err := h.Detach("lo"); !errors.Is(err, ErrConflict) {
		t.Errorf("Detach(lo): %v; want ErrConflict", err)
	}
	if err := h.Detach(l.pfx + "x6"); !errors.Is(err, ErrConflict) {
		t.Errorf("Detach of the vxlan device: %v; want ErrConflict", err)
	}
	l.link(ns, "lo")
	l.link(ns, l.pfx+"x6")
	l.deleteLinks(ns, tap)
}

func TestDetach(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	n := vxNet(8, 800)
	if _, err := h.EnsureNetwork(n, nil); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	tap, _ := h.TapName(80, 0)
	if err := h.AttachTap(n, tap); err != nil {
		t.Fatalf("AttachTap: %v", err)
	}
	veth := l.pfx + "g80"
	l.veth(ns, veth, ns, l.pfx+"g80p")
	if err := h.AttachLink(n, veth); err != nil {
		t.Fatalf("AttachLink: %v", err)
	}
	if k := l.link(ns, veth); k.Attrs().MasterIndex != l.link(ns, l.pfx+"b8").Attrs().Index || k.Attrs().MTU != 1450 {
		t.Errorf("veth: master %d mtu %d", k.Attrs().MasterIndex, k.Attrs().MTU)
	}
	if err := h.Detach(tap); err != nil {
		t.Fatalf("Detach(tap): %v", err)
	}
	l.absent(ns, tap)
	l.link(ns, l.pfx+"b8") // the veth still uses it
	l.link(ns, l.pfx+"x8")
	if err := h.Detach(veth); err != nil {
		t.Fatalf("Detach(veth): %v", err)
	}
	if got := l.linkNames(ns); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("links after the last port left: %v; want [lo]", got)
	}
	if err := h.Detach(tap); err != nil {
		t.Errorf("Detach of a missing link: %v; want nil", err)
	}
	// An unattached tap of ours (left by a crash) is deleted.
	if _, err := h.EnsureNetwork(n, nil); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	if err := h.AttachTap(n, tap); err != nil {
		t.Fatalf("AttachTap: %v", err)
	}
	if err := l.nl(ns).LinkSetNoMaster(l.link(ns, tap)); err != nil {
		t.Fatal(err)
	}
	if err := h.Detach(tap); err != nil {
		t.Errorf("Detach of an unattached tap: %v", err)
	}
	l.absent(ns, tap)
}

func TestNetworksAndSweep(t *testing.T) {
	l := newLab(t)
	ns := l.ns()
	h := l.host(ns, local, "")
	nets := []Network{vxNet(1, 101), {ID: 2, Kind: KindBridge}, vxNet(3, 103)}
	for _, n := range nets {
		if _, err := h.EnsureNetwork(n, []net.IP{peer2}); err != nil {
			t.Fatalf("EnsureNetwork %d: %v", n.ID, err)
		}
	}
	tap, _ := h.TapName(20, 0)
	if err := h.AttachTap(nets[1], tap); err != nil {
		t.Fatalf("AttachTap: %v", err)
	}
	l.deleteLinks(ns, l.pfx+"b3") // a crash left network 3's vxlan device alone
	got, err := h.Networks()
	want := []NetworkState{
		{ID: 1, Bridge: l.pfx + "b1", Uplink: l.pfx + "x1"},
		{ID: 2, Bridge: l.pfx + "b2", Ports: []string{tap}},
		{ID: 3, Uplink: l.pfx + "x3"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Networks = %+v, %v; want %+v", got, err, want)
	}
	removed, err := h.Sweep(func(id int64) bool { return id == 1 })
	if err != nil || !slices.Equal(removed, []int64{2, 3}) {
		t.Errorf("Sweep = %v, %v; want [2 3]", removed, err)
	}
	if got, want := l.linkNames(ns), sorted([]string{l.pfx + "b1", l.pfx + "x1", "lo"}); !slices.Equal(got, want) {
		t.Errorf("links after Sweep %v; want %v", got, want)
	}
}
