package netsetup

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// tapFlags match how QEMU opens a tap by name (-netdev tap,ifname=...):
// no packet information header, virtio-net header, single queue.
const tapFlags = netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_ONE_QUEUE

// AttachTap makes the persistent tap if it is missing and attaches it to
// network n's bridge with the network's MTU, up. A link with that name that
// is not a tap is a conflict. On failure it removes the tap if it made it.
func (h *Host) AttachTap(n Network, tap string) error {
	return h.attach(n, tap, true)
}

// AttachLink attaches an existing link (a veth end, say) to network n's
// bridge the way AttachTap does a tap.
func (h *Host) AttachLink(n Network, link string) error {
	return h.attach(n, link, false)
}

func (h *Host) attach(n Network, name string, tap bool) (err error) {
	nm, err := h.check(n)
	if err != nil {
		return err
	}
	if name == "" || len(name) > maxNameLen {
		return invalid("link name", fmt.Sprintf("%q", name), fmt.Sprintf("1..%d characters", maxNameLen))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	u := &undo{log: h.log}
	defer u.runIf(&err)
	if err := h.attachLocked(n, nm.bridge, name, tap, u); err != nil {
		return fmt.Errorf("attach %s to network %d (%s): %w", name, n.ID, n.Name, err)
	}
	return nil
}

func (h *Host) attachLocked(n Network, bridge, name string, tap bool, u *undo) error {
	br, err := h.linkByName(bridge)
	if err == nil && br == nil {
		err = fmt.Errorf("no bridge %s; call EnsureNetwork first: %w", bridge, ErrNoNetwork)
	}
	if err != nil {
		return err
	}
	l, err := h.portLink(name, tap, u)
	if err != nil {
		return err
	}
	if err := h.setMTU(l, n.mtu()); err != nil {
		return err
	}
	if err := h.enslave(l, br, u); err != nil {
		return err
	}
	return h.setUp(l)
}

// portLink finds the link to attach, making it when it is a missing tap.
func (h *Host) portLink(name string, tap bool, u *undo) (netlink.Link, error) {
	l, err := h.linkByName(name)
	switch {
	case err != nil:
		return nil, err
	case l == nil && !tap:
		return nil, fmt.Errorf("no link %s to attach", name)
	case l == nil:
		return h.createTap(name, u)
	case tap && !isTap(l):
		return nil, fmt.Errorf("tap %s: the name is a %s link: %w", name, l.Type(), ErrConflict)
	}
	return l, nil
}

func isTap(l netlink.Link) bool {
	t, ok := l.(*netlink.Tuntap)
	return ok && t.Mode == netlink.TUNTAP_MODE_TAP
}

// createTap makes a persistent tap in Config.NS; /dev/net/tun makes it in
// the calling thread's namespace, hence inNS.
func (h *Host) createTap(name string, u *undo) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	tap := &netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TAP, Flags: tapFlags}
	if err := inNS(h.cfg.NS, func() error { return netlink.LinkAdd(tap) }); err != nil {
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	u.add("delete tap "+name, func() error { return h.deleteLink(name) })
	h.log.Info("created tap", "tap", name)
	l, err := h.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("look up new tap %s: %w", name, err)
	}
	return l, nil
}
