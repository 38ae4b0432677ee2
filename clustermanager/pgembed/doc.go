// Package pgembed runs the cluster manager's private PostgreSQL server
// under a state directory.
//
// Start finds the PostgreSQL binaries (PATH first, then the highest
// /usr/lib/postgresql/*/bin), runs initdb on an empty or missing data
// directory, writes tashi.conf into it (included from postgresql.conf and
// rewritten at every start), and starts the server with pg_ctl -w. The
// server listens only on a unix socket in a private directory (mode 0700),
// and every local connection is trusted: the directory permissions are the
// access control. The server log is postgres.log beside the data directory.
//
// When the caller is root, initdb and pg_ctl run as the postgres system
// user (initdb refuses root); the data, socket and log paths are chowned to
// it and every parent directory must let it search (x).
//
// The server runs in its own session and process group, so a Ctrl-C in the
// cluster manager's terminal does not kill it before the cluster manager's
// orderly Stop. The other side of this is that a crashed or SIGKILLed
// cluster manager leaves the server running. Start handles what such a crash
// leaves behind:
//
//   - a postmaster of this data directory still alive (found through
//     postmaster.pid, checked to be a postgres process whose working
//     directory is this data directory) is stopped with pg_ctl stop -m fast
//     and a fresh one is started. It is not reused: it may listen on another
//     socket directory, one that a previous run made and that may be gone.
//   - a dead postmaster leaves postmaster.pid behind, and its backends may
//     outlive it for a moment. Start waits for every postgres process whose
//     working directory is the data directory to exit (SIGKILL after a few
//     seconds). If some process still holds the dead postmaster's PID (a
//     zombie not yet reaped, or a reuse of the PID), PostgreSQL would take
//     it for a live server and refuse to start, so Start removes the stale
//     postmaster.pid; otherwise PostgreSQL handles the stale file itself
//     and frees the dead server's shared memory. Crash recovery then runs
//     as usual.
//
// Options.Fsync=false is for tests only: a crash of the machine (not only
// of the server) may lose or corrupt committed data.
package pgembed
