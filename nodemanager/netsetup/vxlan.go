package netsetup

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vxlanLink is the VXLAN device network n wants.
func (h *Host) vxlanLink(n Network, name string, underlay int) *netlink.Vxlan {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = name, n.mtu()
	return &netlink.Vxlan{
		LinkAttrs:    attrs,
		VxlanId:      n.SegmentID,
		VtepDevIndex: underlay,
		SrcAddr:      h.cfg.Local,
		Port:         h.cfg.VXLANPort,
		Learning:     true,
	}
}

// sameVXLAN reports whether an existing device has the wanted settings.
func sameVXLAN(have, want *netlink.Vxlan) bool {
	return have.VxlanId == want.VxlanId && have.Port == want.Port &&
		have.SrcAddr.Equal(want.SrcAddr) && have.Learning == want.Learning &&
		(want.VtepDevIndex == 0 || have.VtepDevIndex == want.VtepDevIndex)
}

// underlayIndex is Config.Uplink's index, or 0 when unset.
func (h *Host) underlayIndex() (int, error) {
	if h.cfg.Uplink == "" {
		return 0, nil
	}
	l, err := h.linkByName(h.cfg.Uplink)
	if err != nil {
		return 0, err
	}
	if l == nil {
		return 0, invalid("Config.Uplink", fmt.Sprintf("%q", h.cfg.Uplink), "an existing device in the host's namespace")
	}
	return l.Attrs().Index, nil
}

// ensureVXLAN finds or makes the VXLAN device, as a port of br, with its
// flood entries. A device of ours with other settings is remade.
func (h *Host) ensureVXLAN(n Network, name string, br netlink.Link, peers []net.IP, u *undo) error {
	underlay, err := h.underlayIndex()
	if err != nil {
		return err
	}
	want := h.vxlanLink(n, name, underlay)
	vx, err := h.findVXLAN(name, want)
	if err != nil {
		return err
	}
	if vx == nil {
		if vx, err = h.createVXLAN(want, u); err != nil {
			return err
		}
	}
	if err := h.setMTU(vx, n.mtu()); err != nil {
		return err
	}
	if err := h.enslave(vx, br, u); err != nil {
		return err
	}
	if err := h.setPeers(vx, peers, u); err != nil {
		return err
	}
	return h.setUp(vx)
}

// findVXLAN returns the existing device if it matches want, deletes it if it
// is ours with other settings, and refuses a link of another kind.
func (h *Host) findVXLAN(name string, want *netlink.Vxlan) (netlink.Link, error) {
	l, err := h.linkByName(name)
	if err != nil || l == nil {
		return nil, err
	}
	have, ok := l.(*netlink.Vxlan)
	if !ok {
		return nil, fmt.Errorf("vxlan device %s: the name is a %s link: %w", name, l.Type(), ErrConflict)
	}
	if sameVXLAN(have, want) {
		return l, nil
	}
	h.log.Warn("remaking vxlan device with other settings", "link", name,
		"vni", have.VxlanId, "want_vni", want.VxlanId, "port", have.Port, "local", have.SrcAddr)
	if err := h.nl.LinkDel(l); err != nil {
		return nil, fmt.Errorf("delete outdated vxlan device %s: %w", name, err)
	}
	return nil, nil
}

func (h *Host) createVXLAN(want *netlink.Vxlan, u *undo) (netlink.Link, error) {
	name := want.Name
	if err := h.nl.LinkAdd(want); err != nil {
		hint := ""
		if errors.Is(err, unix.EEXIST) {
			hint = " (another vxlan device here uses that vni and port)"
		}
		return nil, fmt.Errorf("create vxlan device %s (vni %d, local %s, port %d)%s: %w",
			name, want.VxlanId, want.SrcAddr, want.Port, hint, err)
	}
	u.add("delete vxlan device "+name, func() error { return h.deleteLink(name) })
	h.log.Info("created vxlan device", "link", name, "vni", want.VxlanId, "local", want.SrcAddr.String(), "port", want.Port)
	l, err := h.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up new vxlan device %s: %w", name, err)
	}
	return l, nil
}
