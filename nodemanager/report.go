package nodemanager

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// register is registerNodeManager, retried until the CM answers or ctx
// ends; a refusal (unknown host, bad input) is returned at once.
func (n *NodeManager) register(ctx context.Context) error {
	for wait := 200 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		r, err := n.cfg.CM.Register(ctx, n.registration())
		if err == nil {
			n.hostID = r.HostID
			n.log.Info("registered with the cluster manager", "host_id", r.HostID, "state", r.State)
			return nil
		}
		var apiErr *api.Error
		if errorsAs(err, &apiErr) && apiErr.Code != api.CodeUnavailable {
			return err
		}
		n.log.Warn("cluster manager unreachable; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (n *NodeManager) registration() api.RegisterRequest {
	accel, _ := n.cfg.VMM.Accel()
	total, free := memInfo()
	r := api.RegisterRequest{Name: n.cfg.HostName, Address: n.cfg.Advertise, Version: Version,
		TunnelAddress: n.cfg.Network.TunnelAddress,
		Cores:         runtime.NumCPU(), Memory: max(1, total-n.cfg.ReservedMemory),
		Stats: api.HostStats{Load1: load1(), FreeMemory: free, Accel: accel}}
	if n.cfg.Cores > 0 {
		r.Cores = n.cfg.Cores
	}
	if n.cfg.MemoryMiB > 0 {
		r.Memory = n.cfg.MemoryMiB
	}
	return r
}

// heartbeatLoop sends host stats and every guest's state.
func (n *NodeManager) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.RegisterFrequency)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := n.heartbeat(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("heartbeat failed", "err", err)
			if api.IsCode(err, api.CodeNotFound) {
				_ = n.register(ctx) // the host was re-added: register again
			}
		}
	}
}

func (n *NodeManager) heartbeat(ctx context.Context) error {
	guests, err := n.cfg.VMM.List(ctx)
	if err != nil {
		return err
	}
	accel, _ := n.cfg.VMM.Accel()
	_, free := memInfo()
	hb := api.Heartbeat{HostID: n.hostID, Stats: api.HostStats{Load1: load1(), FreeMemory: free, Accel: accel}}
	for _, g := range guests {
		hb.VMs = append(hb.VMs, api.VMReport{InstanceID: g.InstanceID, State: apiState(g.State),
			VMID: g.VMID, CPUSeconds: g.CPUSeconds, RSS: g.RSSBytes})
	}
	return n.cfg.CM.SendHeartbeat(ctx, hb)
}

// eventLoop turns guests' own state changes into vmStateChange calls;
// exits we caused (suspend, migration, destroy) are the agent's to report.
func (n *NodeManager) eventLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-n.cfg.VMM.Events():
			if n.expected(ev.InstanceID) {
				if ev.State == vmm.StateExited {
					n.expect(ev.InstanceID, false)
				}
				continue // the operation that caused it cleans up
			}
			if ev.State == vmm.StateExited {
				n.net.releaseGuest(ev.InstanceID)
				_ = n.cfg.Images.RemoveOverlays(ev.InstanceID)
			}
			n.log.Info("guest changed state by itself", "instance_id", ev.InstanceID, "state", ev.State, "reason", ev.Reason)
			n.queueChange(ev.InstanceID, apiState(ev.State), ev.Reason)
		}
	}
}

func (n *NodeManager) queueChange(id int64, st api.InstanceState, why string) {
	sc := api.StateChange{InstanceID: id, HostID: n.hostID, New: st, Error: why}
	select {
	case n.changes <- sc:
	default:
		n.log.Error("state change queue full; the next heartbeat carries it", "instance_id", id, "state", st)
	}
}

// changeLoop sends queued state changes, retrying each until the CM takes
// or refuses it (Tashi's notifyCM buffer, without its bug).
func (n *NodeManager) changeLoop(ctx context.Context) {
	for {
		var sc api.StateChange
		select {
		case <-ctx.Done():
			return
		case sc = <-n.changes:
		}
		for wait := 100 * time.Millisecond; ctx.Err() == nil; wait = min(2*wait, 5*time.Second) {
			_, err := n.cfg.CM.VMStateChange(ctx, sc)
			var apiErr *api.Error
			if err == nil || errorsAs(err, &apiErr) {
				if err != nil {
					n.log.Warn("cluster manager refused a state change", "instance_id", sc.InstanceID, "err", err)
				}
				break
			}
			time.Sleep(wait)
		}
	}
}

// memInfo returns total and available memory in MiB.
func memInfo() (total, free int) {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "MemTotal:":
			total = kb / 1024
		case "MemAvailable:":
			free = kb / 1024
		}
	}
	return total, free
}

func load1() float64 {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
