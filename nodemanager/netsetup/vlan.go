package netsetup

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vlanLink is the 802.1Q sub-interface name with id vid on the link with
// index parent.
func vlanLink(parent, vid int, name string, mtu int) *netlink.Vlan {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.ParentIndex, attrs.MTU = name, parent, mtu
	return &netlink.Vlan{LinkAttrs: attrs, VlanId: vid, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q}
}

// ensureVLAN finds or makes the VLAN sub-interface of Config.Uplink as a
// port of br. A device of ours with another id or parent is remade.
func (h *Host) ensureVLAN(n Network, name string, br netlink.Link, u *undo) error {
	parent, err := h.underlayIndex()
	if err != nil {
		return err
	}
	want := vlanLink(parent, n.SegmentID, name, n.mtu())
	l, err := h.findVLAN(name, want)
	if err != nil {
		return err
	}
	if l == nil {
		if l, err = h.createVLAN(want, u); err != nil {
			return err
		}
	}
	if err := h.setMTU(l, n.mtu()); err != nil {
		return err
	}
	if err := h.enslave(l, br, u); err != nil {
		return err
	}
	return h.setUp(l)
}

func (h *Host) findVLAN(name string, want *netlink.Vlan) (netlink.Link, error) {
	l, err := h.linkByName(name)
	if err != nil || l == nil {
		return nil, err
	}
	have, ok := l.(*netlink.Vlan)
	if !ok {
		return nil, fmt.Errorf("vlan device %s: the name is a %s link: %w", name, l.Type(), ErrConflict)
	}
	if have.VlanId == want.VlanId && have.ParentIndex == want.ParentIndex {
		return l, nil
	}
	h.log.Warn("remaking vlan device with other settings", "link", name, "vlan", have.VlanId, "want_vlan", want.VlanId)
	if err := h.nl.LinkDel(l); err != nil {
		return nil, fmt.Errorf("delete outdated vlan device %s: %w", name, err)
	}
	return nil, nil
}

func (h *Host) createVLAN(want *netlink.Vlan, u *undo) (netlink.Link, error) {
	name := want.Name
	err := h.nl.LinkAdd(want)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil, fmt.Errorf("create vlan device %s (id %d) on %s: %w (%w)", name, want.VlanId, h.cfg.Uplink, ErrVLANUnsupported, err)
	}
	if err != nil {
		return nil, fmt.Errorf("create vlan device %s (id %d) on %s: %w", name, want.VlanId, h.cfg.Uplink, err)
	}
	u.add("delete vlan device "+name, func() error { return h.deleteLink(name) })
	h.log.Info("created vlan device", "link", name, "vlan", want.VlanId, "parent", h.cfg.Uplink)
	l, err := h.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up new vlan device %s: %w", name, err)
	}
	return l, nil
}
