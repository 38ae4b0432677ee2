// Package simvmm is a simulated VMM back end (vmm.VMM) for benchmarks and
// scale tests ONLY. tashi-nm never uses it: it starts no process, runs no
// guest code and touches no device. Guests are records in memory that go
// through the same states a QEMU guest does (Running, Paused, Incoming,
// Migrating, Exited), after configurable fake latencies, with fake VMIDs
// and an Events channel, so that a real node manager on top of it can
// serve thousands of "hosts" in one process.
//
// What is simulated, and how:
//
//   - Start, Pause, Unpause, Shutdown, Destroy, Call, Info and List act on
//     the in-memory record after a delay drawn from Config.Latency.
//   - Suspend writes a small state file (gzip when the name ends in .gz)
//     and ends the guest; Resume checks that the file exists and belongs to
//     the instance, and runs the guest as it was (paused or running).
//   - ListenMigration registers the waiting guest in a process-wide
//     registry under the address it returns; Migrate looks that address up
//     and hands the guest over, so live migrations between simulated node
//     managers in one process work.
//   - Guests live in a process-wide table keyed by Config.RunDir: a new Sim
//     with the same RunDir (a node manager restarted in the same process)
//     sees them, and Recover returns them. Forget drops a table.
//   - Fault knobs (FailStart, FailSuspend, FailResume, FailMigrate, Crash,
//     PowerOff, SetState, and FailStartInGroup for all Sims of a
//     Config.Group) drive the failure paths (Held, exits by themselves).
//   - With Config.CheckDisks, Start, Suspend and Migrate fail when a disk
//     file of the guest is missing, and Suspend, Resume and Migrate fail
//     when a disk path holds another file than the guest started with (a
//     real guest would have lost its writes).
package simvmm
