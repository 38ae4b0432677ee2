// Package qemu is the node manager's QEMU back end (vmm.VMM) and the
// pieces it is built from:
//
//   - Args: a pure, golden-tested command-line builder over Options.
//   - DetectAccel: KVM only where it really works (vmx/svm, or a boot probe
//     when something is unusual); TCG otherwise, with the reason. On a
//     host whose /dev/kvm is PVM (no vmx/svm) guests get TCG.
//   - Driver: starts QEMU directly (no shell, no -daemonize) in its own
//     session so guests outlive the node manager, records
//     RunDir/<id>/state.json atomically, drives the guest over QMP
//     (package qmp), watches it (waitpid for its own children, /proc for
//     guests taken over by Recover) and reports exits and state changes
//     on Events.
//
// Run directory of a guest, RunDir/<instance id>/: state.json, qmp.sock,
// console.sock (serial console), vnc.sock, serial.log, qemu.log (QEMU's
// stderr), qemu.pid, and qmp.log (QMP transcript, Config.Debug).
//
// Suspend writes the migration stream through a pipe passed with getfd
// (fd: URI; QEMU 7.2 has no file: URI), gzip-compressed when the file
// ends in .gz, plus a sidecar FILE.json saying whether the guest was
// paused; Resume feeds the file to a guest started with -incoming defer.
// Live migration is plain QEMU precopy over TCP.
package qemu
