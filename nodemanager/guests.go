package nodemanager

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// instantiate starts a guest (or, with incoming, one that waits for its
// state). Disks, taps and the process are undone if any step fails, so a
// failure leaves nothing behind.
func (n *NodeManager) instantiate(ctx context.Context, r api.InstantiateRequest, incoming bool) (info vmm.Info, err error) {
	in := r.Instance
	if g, err := n.cfg.VMM.Info(ctx, in.ID); err == nil && g.State != vmm.StateExited {
		return g, nil // already there: instantiate is idempotent
	}
	if err := n.memoryFits(in); err != nil {
		return info, err
	}
	if !incoming {
		n.expect(in.ID, false) // a stale mark must not hide this guest's exit
	}
	// Overlays live in the shared store: a migration target or a resume
	// finds the source's; only overlays made here are removed on failure.
	hadDisks := n.hasOverlays(in.ID)
	spec, err := n.spec(ctx, r)
	defer func() {
		if err != nil {
			n.net.releaseGuest(in.ID)
			if !hadDisks {
				_ = n.cfg.Images.RemoveOverlays(in.ID)
			}
		}
	}()
	if err != nil {
		return info, err
	}
	if incoming {
		spec.Incoming = "defer"
	}
	info, err = n.cfg.VMM.Start(ctx, spec)
	if err != nil {
		return info, fmt.Errorf("start instance %d (%s): %w", in.ID, in.Name, err)
	}
	n.log.Info("guest started", "instance_id", in.ID, "name", in.Name, "vm_id", info.VMID, "accel", info.Accel, "incoming", incoming)
	return info, nil
}

// memoryFits refuses a guest the machine cannot hold now, whatever the
// record thinks: QEMU would start and the kernel's OOM killer would
// decide later.
func (n *NodeManager) memoryFits(in api.Instance) error {
	_, free := memInfo()
	if in.Memory > free-n.cfg.ReservedMemory {
		return api.Errorf(api.CodeConflict, "memory",
			"host %s has %d MiB free (keeping %d MiB for itself); instance %s asks %d MiB",
			n.cfg.HostName, free, n.cfg.ReservedMemory, in.Name, in.Memory)
	}
	return nil
}

// spec resolves disks (overlays for non-persistent ones), the boot
// method of disk 0, and the NICs' taps.
func (n *NodeManager) spec(ctx context.Context, r api.InstantiateRequest) (vmm.Spec, error) {
	in := r.Instance
	s := vmm.Spec{InstanceID: in.ID, Name: in.Name, Cores: in.Cores, MemoryMiB: in.Memory}
	if len(in.Disks) == 0 {
		return s, errors.New("the instance has no disk")
	}
	for i, d := range in.Disks {
		disk, err := n.disk(ctx, in.ID, i, d)
		if err != nil {
			return s, err
		}
		s.Disks = append(s.Disks, disk)
	}
	boot, err := n.cfg.Images.Boot(in.Disks[0].URI)
	if err != nil {
		return s, err
	}
	taps, err := n.net.attach(in, r.Networks)
	if err != nil {
		return s, err
	}
	for i, nic := range in.NICs {
		s.NICs = append(s.NICs, vmm.NIC{MAC: nic.MAC, Tap: taps[i]})
	}
	if boot.Kernel != "" {
		boot.Append = strings.TrimSpace(boot.Append + " " + n.net.guestArgs(in.NICs, r.Networks))
	}
	s.Boot = boot
	return s, nil
}

func (n *NodeManager) disk(ctx context.Context, id int64, i int, d api.Disk) (vmm.Disk, error) {
	base, err := n.cfg.Images.Path(d.URI)
	if err != nil {
		return vmm.Disk{}, err
	}
	if !d.Persistent { // an overlay is qcow2 by construction: no probe
		path, err := n.cfg.Images.CreateOverlay(ctx, id, i, d.URI)
		return vmm.Disk{Path: path, Format: "qcow2"}, err
	}
	format, err := n.cfg.Images.Format(base)
	if err != nil {
		return vmm.Disk{}, err
	}
	return vmm.Disk{Path: base, Format: format}, nil
}

// guestArgs tells a direct-booted guest that it has no network when it
// has no NIC, and its address when our DHCP server does not serve its
// first NIC's network (DHCP off, or no gateway).
func (s *netstack) guestArgs(nics []api.NIC, nets map[string]api.NetworkInfo) string {
	if len(nics) == 0 {
		return "guest.nonet=1"
	}
	nic := nics[0]
	info := nets[nic.Network]
	_, cidr, err := net.ParseCIDR(info.CIDR)
	if nic.IP == "" || err != nil || s.serveDHCP(info) {
		return ""
	}
	ones, _ := cidr.Mask.Size()
	args := fmt.Sprintf("guest.ip=%s/%d", nic.IP, ones)
	if info.Gateway != "" {
		args += " guest.gw=" + info.Gateway
	}
	return args
}

// stop runs an operation after which the guest is gone from this host on
// purpose, then frees its taps and, unless keepDisks, its overlays. A
// suspended guest needs its overlays to resume, and a migrated one runs on
// them elsewhere (the image store is shared), so those keep them.
func (n *NodeManager) stop(ctx context.Context, id int64, keepDisks bool, op func() error) error {
	n.expect(id, true) // the guest's Exited event consumes the mark
	if err := op(); err != nil {
		n.expect(id, false)
		return err
	}
	n.net.releaseGuest(id)
	if keepDisks {
		return nil
	}
	return n.cfg.Images.RemoveOverlays(id)
}

// waitRunning waits for a guest that received a migration to run.
func (n *NodeManager) waitRunning(ctx context.Context, id int64, limit time.Duration) (vmm.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		g, err := n.cfg.VMM.Info(ctx, id)
		if err == nil && (g.State == vmm.StateRunning || g.State == vmm.StatePaused) {
			return g, nil
		}
		if err == nil && g.State == vmm.StateExited {
			return g, fmt.Errorf("instance %d exited while receiving: %s", id, g.ExitReason)
		}
		select {
		case <-ctx.Done():
			return g, fmt.Errorf("instance %d did not start running after its migration: %w", id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// suspendFile is where suspending puts the guest's state: Tashi's
// suspend/<id>_<name>.gz, or without .gz when SuspendRaw.
func (n *NodeManager) suspendFile(id int64, name string) string {
	f := n.cfg.Images.SuspendFile(id, name)
	if n.cfg.SuspendRaw {
		return strings.TrimSuffix(f, ".gz")
	}
	return f
}

// resumeFile finds the state a suspend left, compressed or not.
func (n *NodeManager) resumeFile(id int64, name string) string {
	gz := n.cfg.Images.SuspendFile(id, name)
	raw := strings.TrimSuffix(gz, ".gz")
	if _, err := os.Stat(gz); err != nil {
		if _, err := os.Stat(raw); err == nil {
			return raw
		}
	}
	return gz
}

// hasOverlays reports whether instance id has overlays in the store.
func (n *NodeManager) hasOverlays(id int64) bool {
	m, _ := filepath.Glob(filepath.Join(n.cfg.Images.OverlaysDir(), fmt.Sprintf("%d-*.qcow2", id)))
	return len(m) > 0
}
