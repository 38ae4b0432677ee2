// Package vmm is the small interface between the node manager and a VMM
// back end (QEMU over QMP today; libvirt can be added behind the same
// interface). The node manager owns the record-facing logic, taps and
// disks; a back end owns guest processes and their monitors.
package vmm

import (
	"context"
	"fmt"
	"time"
)

// Disk is one disk as the guest sees it, already resolved to a file.
type Disk struct {
	Path     string // absolute path: a per-instance qcow2 overlay, or a persistent image used in place
	Format   string // qcow2 or raw
	ReadOnly bool
}

// NIC is one network interface, attached to a tap the node manager made.
type NIC struct {
	MAC string // 52:54:00:xx:xx:xx
	Tap string // tap device name on the host; "" means user-mode networking (tests only)
}

// Boot says how the guest starts: from a kernel (PVH/direct boot) or, when
// Kernel is empty, from disk 0 through the firmware.
type Boot struct {
	Kernel string // absolute path
	Initrd string // absolute path, optional
	Append string // kernel command line
}

// Spec is everything a back end needs to start one guest.
type Spec struct {
	InstanceID int64
	Name       string
	Cores      int
	MemoryMiB  int
	Disks      []Disk
	NICs       []NIC
	Boot       Boot
	Machine    string // e.g. q35; "" = back end default
	CPU        string // e.g. max; "" = back end default
	// Incoming, if set, starts the guest waiting for its state instead of
	// booting: "defer" (the back end then restores from a file or
	// receives a live migration).
	Incoming string
}

// State is what a back end observes about a guest.
type State string

const (
	StateRunning   State = "Running"
	StatePaused    State = "Paused"
	StateIncoming  State = "Incoming" // waiting for migration data
	StateMigrating State = "Migrating"
	StateExited    State = "Exited"
)

// Info describes one guest.
type Info struct {
	InstanceID int64
	VMID       string // the QEMU process id
	State      State
	Accel      string // kvm or tcg
	SerialLog  string // path of the serial console log
	CPUSeconds float64
	RSSBytes   int64
	ExitReason string // set when State is Exited: "shutdown", "killed", "crashed: ..."
}

// MigrationStats is what a finished migration or suspend measured.
type MigrationStats struct {
	Total    time.Duration
	Downtime time.Duration
	Bytes    int64
}

// Event tells the node manager that a guest changed state by itself
// (powered off, crashed, was killed, finished migrating away).
type Event struct {
	InstanceID int64
	State      State
	Reason     string
}

// VMM is a back end. Every method is safe for concurrent use and
// idempotent where it says so. Guests outlive the node manager process.
type VMM interface {
	// Start launches a guest (or, with Spec.Incoming, a guest waiting for
	// its state). Starting an instance that already runs returns its Info.
	Start(ctx context.Context, s Spec) (Info, error)
	// Pause and Unpause stop and continue the vCPUs (idempotent).
	Pause(ctx context.Context, id int64) error
	Unpause(ctx context.Context, id int64) error
	// Shutdown asks the guest to power off (ACPI); after timeout the guest
	// is destroyed. It returns when the guest is gone.
	Shutdown(ctx context.Context, id int64, timeout time.Duration) error
	// Destroy kills the guest and cleans up its runtime files (idempotent).
	Destroy(ctx context.Context, id int64) error
	// Suspend saves the guest's state to file (compressed if the name ends
	// in .gz) and stops the guest.
	Suspend(ctx context.Context, id int64, file string) (MigrationStats, error)
	// Resume loads a guest started with Incoming "defer" from file and
	// runs it (it stays paused if it was paused when suspended).
	Resume(ctx context.Context, id int64, file string) (MigrationStats, error)
	// ListenMigration makes a guest started with Incoming "defer" accept a
	// live migration on addr ("0.0.0.0:0" picks a port); it returns the
	// address the source must send to.
	ListenMigration(ctx context.Context, id int64, addr string) (string, error)
	// Migrate sends a running guest live to target (host:port) with the
	// given downtime limit and bandwidth (bytes/s, 0 = back end default);
	// on success the local guest has exited.
	Migrate(ctx context.Context, id int64, target string, downtime time.Duration, bandwidth int64) (MigrationStats, error)
	// Call runs a vmmSpecificCall (startVnc, stopVnc, reset,
	// changeCdrom:ISO, startConsole, info) and returns its text answer.
	Call(ctx context.Context, id int64, arg string) (string, error)
	// Info and List report guests, with fresh CPU and memory figures.
	Info(ctx context.Context, id int64) (Info, error)
	List(ctx context.Context) ([]Info, error)
	// Recover finds the guests a previous node manager process left
	// running (state files plus monitors) and takes them over.
	Recover(ctx context.Context) ([]Info, error)
	// Events delivers state changes the guests made by themselves. The
	// channel is never closed while the back end lives; events are never
	// dropped silently (a full buffer is logged).
	Events() <-chan Event
	// Accel says which accelerator guests get (kvm or tcg) and why.
	Accel() (name, why string)
}

// ErrNoSuchGuest is returned for instance ids the back end does not run.
type ErrNoSuchGuest struct{ InstanceID int64 }

func (e ErrNoSuchGuest) Error() string {
	return fmt.Sprintf("no guest for instance %d", e.InstanceID)
}
