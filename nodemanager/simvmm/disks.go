package simvmm

import (
	"fmt"
	"os"
	"syscall"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// diskID identifies a disk file: the same path holding another file
// means the guest's writes are lost. The change time and size tell a new
// file that got the freed inode number of the old one (simulated guests
// write nothing, so they change only when the file is replaced; a file
// replaced by one of the same size within one tick of the kernel's
// coarse clock goes unnoticed).
type diskID struct {
	Dev, Ino uint64
	Ctime    int64 // ns
	Size     int64
}

// diskIDs identifies the disk files of spec (nil without CheckDisks).
func (s *Sim) diskIDs(spec vmm.Spec) ([]diskID, error) {
	if !s.cfg.CheckDisks {
		return nil, nil
	}
	ids := make([]diskID, len(spec.Disks))
	for i, d := range spec.Disks {
		fi, err := os.Stat(d.Path)
		if err != nil {
			return nil, fmt.Errorf("disk %d (%s): %w: %v", i, d.Path, ErrMissingDisk, err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ids[i] = diskID{Dev: uint64(st.Dev), Ino: st.Ino, Ctime: st.Ctim.Nano(), Size: st.Size}
		}
	}
	return ids, nil
}

// checkDisks makes sure the guest's disk files are still the ones it
// started with.
func (s *Sim) checkDisks(g *guest) error {
	now, err := s.diskIDs(g.spec)
	if err != nil {
		return err
	}
	return sameDisks(g.spec, g.disks, now)
}

// sameDisks compares the disk identities a guest had (was) with the
// ones it has (now); nil slices (no checking) always agree.
func sameDisks(spec vmm.Spec, was, now []diskID) error {
	if was == nil || now == nil {
		return nil
	}
	for i := range min(len(was), len(now)) {
		if was[i] != now[i] {
			return fmt.Errorf("disk %d (%s): %w", i, spec.Disks[i].Path, ErrDiskReplaced)
		}
	}
	return nil
}

// LostDisks checks, with Config.CheckDisks, every live guest's disk
// files and returns the guests whose disk is missing or was replaced
// since they started (a real guest would have lost its writes).
func (s *Sim) LostDisks() map[int64]error {
	s.t.mu.Lock()
	gs := make([]*guest, 0, len(s.t.guests))
	for _, g := range s.t.guests {
		gs = append(gs, g)
	}
	s.t.mu.Unlock()
	out := map[int64]error{}
	for _, g := range gs {
		if err := s.checkDisks(g); err != nil {
			out[g.spec.InstanceID] = err
		}
	}
	return out
}
