// Package qmp is a small client for the QEMU Machine Protocol over a unix
// socket, written for the node manager instead of go-qemu (whose monitor
// hangs when events are not drained and dies on replies over 64 KiB).
//
// One Monitor per guest. Dial reads the greeting and negotiates
// capabilities. Run sends one command with a fresh id and waits for the
// reply with that id, so concurrent callers are safe and a late reply to
// a cancelled command is dropped. A single reader goroutine decodes the
// stream with an unbounded json.Decoder (query-qmp-schema is ~200 KB)
// and always drains events into a bounded buffer: when the buffer is
// full the oldest event is dropped and counted, and the reader never
// blocks, so commands keep working whether or not anyone reads Events.
//
// RunWithFile passes a file descriptor with the command (SCM_RIGHTS), as
// getfd needs. WithTranscript records every message, for debug mode.
// The typed wrappers in commands.go cover what the node manager uses.
// Package qmptest has a scriptable fake QMP server for unit tests.
package qmp
