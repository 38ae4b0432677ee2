package nodemanager

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
)

// recoverNets takes over the networks and taps a previous node manager
// process left for the guests that survived it (alive), and removes the
// taps of those that did not. Their servers start when the first view
// from the CM gives the networks' details.
func (s *netstack) recoverNets(alive map[int64]bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	states, err := s.host.Networks()
	if err != nil {
		return fmt.Errorf("list networks left by an earlier run: %w", err)
	}
	for _, st := range states {
		hn := &hostedNet{info: api.NetworkInfo{ID: st.ID}, bridge: st.Bridge}
		for _, port := range st.Ports {
			var id int64
			var nic int
			if _, err := fmt.Sscanf(strings.TrimPrefix(port, s.tapPrefix), "%d.%d", &id, &nic); err != nil ||
				!strings.HasPrefix(port, s.tapPrefix) {
				continue
			}
			if !alive[id] { // its guest died while no node manager watched
				if err := s.host.Detach(port); err != nil {
					s.log.Warn("remove the tap of a guest gone", "tap", port, "err", err)
				}
				continue
			}
			s.guests[id] = append(s.guests[id], guestNIC{tap: port, netID: st.ID})
			hn.ports++
		}
		if hn.ports > 0 {
			s.nets[st.ID] = hn
		}
	}
	return nil
}

// follow keeps this host in step with the record: it long-polls the CM's
// node manager view and applies each new one.
func (n *NodeManager) follow(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		v, err := n.cfg.CM.NMView(ctx, index, 30*time.Second)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Warn("read the network view", "err", err)
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		n.net.apply(v, n.hostID)
		index = v.Index
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// apply takes a new view: VXLAN peers, the details of networks taken over
// after a restart (and their servers), leases of guests taken over, and
// the cluster's names for DNS.
func (s *netstack) apply(v api.NMView, hostID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peers = s.peers[:0]
	for _, p := range v.Peers {
		if ip := net.ParseIP(p).To4(); ip != nil {
			s.peers = append(s.peers, ip)
		}
	}
	for _, nw := range v.Networks {
		s.infos[nw.ID] = infoOf(nw)
	}
	for id, hn := range s.nets {
		s.refreshNet(id, hn)
	}
	for _, r := range v.Names {
		if r.Host == hostID || r.Target == hostID {
			s.adopt(r)
		}
	}
	s.names.set(v)
}

func infoOf(n api.Network) api.NetworkInfo {
	return api.NetworkInfo{ID: n.ID, Name: n.Name, Kind: n.Kind, SegmentID: n.SegmentID, CIDR: n.CIDR,
		Gateway: n.Gateway, Domain: n.Domain, MTU: n.MTU}
}

// refreshNet starts the servers of a network taken over, and sets its
// VXLAN peers.
func (s *netstack) refreshNet(id int64, hn *hostedNet) {
	info, ok := s.infos[id]
	if !ok {
		return
	}
	if !hn.serving {
		hn.info = info
		if err := s.startServers(hn); err != nil {
			s.log.Error("start the servers of a network taken over", "network", info.Name, "err", err)
		}
	}
	if hn.info.Kind == "vxlan" {
		if err := s.host.SetPeers(id, s.peers); err != nil {
			s.log.Warn("set vxlan peers", "network", hn.info.Name, "err", err)
		}
	}
}

// adopt gives a guest of this host its lease when it is not known yet
// (taken over after a restart).
func (s *netstack) adopt(r api.NameRecord) {
	hn := s.nets[r.Network]
	if hn == nil || !hn.serving {
		return
	}
	mac, err := net.ParseMAC(r.MAC)
	if err != nil {
		return
	}
	if _, ok := hn.leases.Lookup(mac); ok {
		return
	}
	for i, g := range s.guests[r.InstanceID] {
		if g.netID == r.Network && g.mac == nil {
			s.guests[r.InstanceID][i].mac = mac
			if err := s.lease(hn, r.Name, r.IP, mac); err != nil {
				s.log.Warn("lease of a guest taken over", "instance_id", r.InstanceID, "err", err)
			}
			return
		}
	}
}
