package simvmm

import "errors"

// ErrBadState is returned (wrapped) when an operation does not fit the
// guest's state, e.g. Resume on a guest not started with Incoming.
var ErrBadState = errors.New("simulated guest is in the wrong state")

// ErrInjected is returned (wrapped) by an operation a fault knob made fail.
var ErrInjected = errors.New("injected fault")

// ErrNoListener is returned (wrapped) by Migrate when no simulated guest
// waits at the target address.
var ErrNoListener = errors.New("no simulated guest listens at the migration target")

// ErrMissingDisk is returned (wrapped) with Config.CheckDisks when a disk
// file of the guest does not exist.
var ErrMissingDisk = errors.New("disk file missing")

// ErrSuspendFile is returned (wrapped) by Resume when the state file is
// missing, unreadable or another instance's.
var ErrSuspendFile = errors.New("bad suspend file")

// ErrDiskReplaced is returned (wrapped) with Config.CheckDisks when a disk
// path of the guest now holds another file than the guest started with
// (or than the source of a migration, or the suspended guest, had): the
// guest's writes would be lost.
var ErrDiskReplaced = errors.New("disk file replaced")
