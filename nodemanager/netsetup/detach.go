package netsetup

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Detach deletes a port: a link attached to one of this Host's bridges, or
// a tap named as TapName names them. If its bridge is then left with no
// port but its uplink device, the bridge and uplink go too. A missing link
// is not an error; any other link is refused (ErrConflict).
func (h *Host) Detach(link string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.detach(link); err != nil {
		return fmt.Errorf("detach %s: %w", link, err)
	}
	return nil
}

func (h *Host) detach(name string) error {
	l, err := h.linkByName(name)
	if err != nil || l == nil {
		return err
	}
	if kind, _ := h.kindOf(name); kind != "" {
		return fmt.Errorf("%s is a network's own %s device, removed with its last port or by Sweep: %w", name, kind, ErrConflict)
	}
	master := l.Attrs().MasterIndex
	netID, ours := h.bridgeID(master)
	if !ours && !isTapName(h.cfg.TapPrefix, name) {
		return fmt.Errorf("%s is neither a port of a tashi bridge nor a tashi tap: %w", name, ErrConflict)
	}
	if err := h.nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	h.log.Info("deleted port", "link", name)
	if !ours {
		return nil
	}
	return h.removeIfUnused(netID, master)
}

// bridgeID returns the network id of the bridge with index idx, if it is
// one of this Host's bridges.
func (h *Host) bridgeID(idx int) (int64, bool) {
	if idx == 0 {
		return 0, false
	}
	br, err := h.nl.LinkByIndex(idx)
	if err != nil || br.Type() != "bridge" {
		return 0, false
	}
	return parseID(h.cfg.BridgePrefix, br.Attrs().Name)
}

// removeIfUnused deletes network netID's bridge (index idx) and uplink when
// the bridge has no other port.
func (h *Host) removeIfUnused(netID int64, idx int) error {
	ports, err := h.ports(idx)
	if err != nil {
		return err
	}
	for _, p := range ports {
		if !h.isUplink(netID, p) {
			return nil // still in use
		}
	}
	return h.removeNetwork(netID)
}

// isUplink reports whether l is network netID's vxlan or vlan device.
func (h *Host) isUplink(netID int64, l netlink.Link) bool {
	name := l.Attrs().Name
	vx, _ := h.VXLANName(netID)
	vl, _ := h.VLANName(netID)
	return (name == vx && l.Type() == "vxlan") || (name == vl && l.Type() == "vlan")
}

// removeNetwork deletes network netID's uplink devices and bridge.
func (h *Host) removeNetwork(netID int64) error {
	var errs []error
	for _, nameOf := range []func(int64) (string, error){h.VXLANName, h.VLANName, h.BridgeName} {
		name, err := nameOf(netID)
		if err == nil {
			err = h.deleteOurs(name)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteOurs deletes a device named as ours if it is of the kind its name
// says.
func (h *Host) deleteOurs(name string) error {
	l, err := h.linkByName(name)
	if err != nil || l == nil {
		return err
	}
	if kind, _ := h.kindOf(name); kind != l.Type() {
		return fmt.Errorf("%s is a %s link: %w", name, l.Type(), ErrConflict)
	}
	if err := h.nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	h.log.Info("deleted link", "link", name)
	return nil
}

// kindOf is the link type a device name of ours has, and its network id.
func (h *Host) kindOf(name string) (string, int64) {
	for _, k := range []struct{ prefix, kind string }{
		{h.cfg.BridgePrefix, "bridge"}, {h.cfg.VXLANPrefix, "vxlan"}, {h.cfg.VLANPrefix, "vlan"},
	} {
		if id, ok := parseID(k.prefix, name); ok {
			return k.kind, id
		}
	}
	return "", 0
}
