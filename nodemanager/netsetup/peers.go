package netsetup

import (
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SetPeers makes the VXLAN device of network netID flood to exactly peers
// (other hosts' tunnel addresses): it adds the missing all-zero-MAC FDB
// entries and deletes stale ones. Config.Local is never a peer.
func (h *Host) SetPeers(netID int64, peers []net.IP) (err error) {
	name, err := h.VXLANName(netID)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	vx, err := h.linkByName(name)
	if err == nil && vx == nil {
		err = fmt.Errorf("no vxlan device %s; call EnsureNetwork first: %w", name, ErrNoNetwork)
	}
	if err != nil {
		return fmt.Errorf("set peers of network %d: %w", netID, err)
	}
	u := &undo{log: h.log}
	defer u.runIf(&err)
	if err := h.setPeers(vx, peers, u); err != nil {
		return fmt.Errorf("set peers of network %d: %w", netID, err)
	}
	return nil
}

// Peers lists the flood destinations of network netID's VXLAN device.
func (h *Host) Peers(netID int64) ([]net.IP, error) {
	name, err := h.VXLANName(netID)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	vx, err := h.linkByName(name)
	if err == nil && vx == nil {
		err = fmt.Errorf("no vxlan device %s: %w", name, ErrNoNetwork)
	}
	if err != nil {
		return nil, fmt.Errorf("list peers of network %d: %w", netID, err)
	}
	return h.floodPeers(vx)
}

// setPeers adds the missing entries first (undone on failure), then
// deletes the stale ones.
func (h *Host) setPeers(vx netlink.Link, peers []net.IP, u *undo) error {
	want, err := h.wantPeers(peers)
	if err != nil {
		return err
	}
	have, err := h.floodPeers(vx)
	if err != nil {
		return err
	}
	for _, p := range want {
		if !containsIP(have, p) {
			if err := h.addPeer(vx, p, u); err != nil {
				return err
			}
		}
	}
	var errs []error
	for _, p := range have {
		if !containsIP(want, p) {
			errs = append(errs, h.fdbDel(vx, p))
		}
	}
	return errors.Join(errs...)
}

// wantPeers drops duplicates and the local address, and checks families.
func (h *Host) wantPeers(peers []net.IP) ([]net.IP, error) {
	v4 := h.cfg.Local.To4() != nil
	var out []net.IP
	for _, p := range peers {
		if p.To16() == nil || (p.To4() != nil) != v4 {
			return nil, invalid("peer", p, "an address of the same family as Config.Local "+h.cfg.Local.String())
		}
		if !p.Equal(h.cfg.Local) && !containsIP(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func containsIP(ips []net.IP, ip net.IP) bool {
	return slices.ContainsFunc(ips, ip.Equal)
}

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// floodEntry is "bridge fdb append 00:00:00:00:00:00 dev VX dst PEER self permanent".
func floodEntry(vx netlink.Link, peer net.IP) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    vx.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT,
		Flags:        netlink.NTF_SELF,
		HardwareAddr: zeroMAC,
		IP:           peer,
	}
}

// floodPeers lists the destinations of vx's all-zero-MAC FDB entries.
func (h *Host) floodPeers(vx netlink.Link) ([]net.IP, error) {
	var entries []netlink.Neigh
	var err error
	for range 5 {
		if entries, err = h.nl.NeighList(vx.Attrs().Index, unix.AF_BRIDGE); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list fdb of %s: %w", vx.Attrs().Name, err)
	}
	var out []net.IP
	for _, e := range entries {
		if e.Flags&netlink.NTF_SELF != 0 && e.IP != nil && e.HardwareAddr.String() == zeroMAC.String() {
			out = append(out, e.IP)
		}
	}
	return out, nil
}

func (h *Host) addPeer(vx netlink.Link, p net.IP, u *undo) error {
	if err := h.nl.NeighAppend(floodEntry(vx, p)); err != nil {
		return fmt.Errorf("add flood entry dst %s to %s: %w", p, vx.Attrs().Name, err)
	}
	u.add("remove flood entry "+p.String(), func() error { return h.fdbDel(vx, p) })
	h.log.Info("added vxlan peer", "link", vx.Attrs().Name, "peer", p.String())
	return nil
}

func (h *Host) fdbDel(vx netlink.Link, p net.IP) error {
	if err := h.nl.NeighDel(floodEntry(vx, p)); err != nil {
		return fmt.Errorf("remove flood entry dst %s from %s: %w", p, vx.Attrs().Name, err)
	}
	h.log.Info("removed vxlan peer", "link", vx.Attrs().Name, "peer", p.String())
	return nil
}
