package netsetup

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// NetworkState is what exists on this host for one network.
type NetworkState struct {
	ID     int64
	Bridge string   // "" when only an uplink device was left
	Uplink string   // the vxlan or vlan device, "" if none
	Ports  []string // the bridge's other ports (taps, veths)
}

// Networks lists the networks whose devices exist here, by name prefix,
// ordered by id.
func (h *Host) Networks() ([]NetworkState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.networks()
}

func (h *Host) networks() ([]NetworkState, error) {
	links, err := h.linkList()
	if err != nil {
		return nil, err
	}
	byID := map[int64]*NetworkState{}
	get := func(id int64) *NetworkState {
		if byID[id] == nil {
			byID[id] = &NetworkState{ID: id}
		}
		return byID[id]
	}
	bridges := map[int]int64{} // bridge index -> network id
	for _, l := range links {
		switch kind, id := h.kindOf(l.Attrs().Name); {
		case kind == "bridge" && l.Type() == kind:
			get(id).Bridge, bridges[l.Attrs().Index] = l.Attrs().Name, id
		case kind != "" && l.Type() == kind:
			get(id).Uplink = l.Attrs().Name
		}
	}
	for _, l := range links {
		if id, ok := bridges[l.Attrs().MasterIndex]; ok && !h.isUplink(id, l) {
			get(id).Ports = append(get(id).Ports, l.Attrs().Name)
		}
	}
	return sortedStates(byID), nil
}

func sortedStates(byID map[int64]*NetworkState) []NetworkState {
	out := make([]NetworkState, 0, len(byID))
	for _, s := range byID {
		slices.Sort(s.Ports)
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b NetworkState) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Sweep removes the networks keep does not want, after a restart: their
// taps (as TapName names them), uplink devices and bridges. Other ports
// are only detached, by the bridge's removal. It returns the ids removed.
func (h *Host) Sweep(keep func(netID int64) bool) ([]int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	states, err := h.networks()
	if err != nil {
		return nil, fmt.Errorf("sweep networks: %w", err)
	}
	var removed []int64
	var errs []error
	for _, s := range states {
		if keep(s.ID) {
			continue
		}
		if err := h.sweep(s); err != nil {
			errs = append(errs, fmt.Errorf("sweep network %d: %w", s.ID, err))
			continue
		}
		removed = append(removed, s.ID)
	}
	return removed, errors.Join(errs...)
}

func (h *Host) sweep(s NetworkState) error {
	var errs []error
	for _, p := range s.Ports {
		if isTapName(h.cfg.TapPrefix, p) {
			errs = append(errs, h.deleteLink(p))
		}
	}
	errs = append(errs, h.removeNetwork(s.ID))
	return errors.Join(errs...)
}
