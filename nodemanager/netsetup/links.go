package netsetup

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// linkByName returns the link, or nil without error if there is none.
func (h *Host) linkByName(name string) (netlink.Link, error) {
	l, err := h.nl.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up link %s: %w", name, err)
	}
	return l, nil
}

// linkList lists the namespace's links, retrying dumps interrupted by
// concurrent changes.
func (h *Host) linkList() ([]netlink.Link, error) {
	var err error
	for range 5 {
		var links []netlink.Link
		if links, err = h.nl.LinkList(); err == nil {
			return links, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("list links: %w", err)
}

// ports lists the links enslaved to the link with index master.
func (h *Host) ports(master int) ([]netlink.Link, error) {
	links, err := h.linkList()
	if err != nil {
		return nil, err
	}
	var out []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == master {
			out = append(out, l)
		}
	}
	return out, nil
}

// deleteLink deletes a link by name if it exists.
func (h *Host) deleteLink(name string) error {
	l, err := h.linkByName(name)
	if err != nil || l == nil {
		return err
	}
	if err := h.nl.LinkDel(l); err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	h.log.Info("deleted link", "link", name)
	return nil
}

// setMTU sets a link's MTU if it differs.
func (h *Host) setMTU(l netlink.Link, mtu int) error {
	if l.Attrs().MTU == mtu {
		return nil
	}
	if err := h.nl.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set mtu of %s to %d: %w", l.Attrs().Name, mtu, err)
	}
	return nil
}

// setUp brings a link up if it is not.
func (h *Host) setUp(l netlink.Link) error {
	if l.Attrs().RawFlags&unix.IFF_UP != 0 {
		return nil
	}
	if err := h.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring %s up: %w", l.Attrs().Name, err)
	}
	return nil
}

// enslave makes l a port of br; undo puts it back where it was.
func (h *Host) enslave(l, br netlink.Link, u *undo) error {
	old := l.Attrs().MasterIndex
	if old == br.Attrs().Index {
		return nil
	}
	if err := h.nl.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("attach %s to bridge %s: %w", l.Attrs().Name, br.Attrs().Name, err)
	}
	u.add("detach "+l.Attrs().Name, func() error {
		if old == 0 {
			return h.nl.LinkSetNoMaster(l)
		}
		return h.nl.LinkSetMasterByIndex(l, old)
	})
	return nil
}
