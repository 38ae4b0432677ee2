// Package pgtest gives tests real PostgreSQL databases: one throwaway
// cluster per test package, started on first use, and one fresh database
// per test.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		dsn := pgtest.NewDB(t) // dropped when the test ends
//		...
//	}
//
// SetTemplate, called before the first NewDB (in TestMain, say), prepares a
// template database once, for instance by running the schema migrations;
// every NewDB then clones it with CREATE DATABASE ... TEMPLATE, which costs
// milliseconds instead of a migration run per test.
//
// The cluster runs through clustermanager/pgembed with Fsync off, in a
// temporary directory under /dev/shm when that is a usable directory (file
// creation on this project's ext4 disks is slow: CREATE DATABASE takes
// ~250 ms there, ~20 ms on tmpfs), else under os.TempDir(). Main stops it
// and removes the directory. A test binary that dies without reaching the
// end of Main (go test -timeout, Ctrl-C, SIGKILL) is covered too: a small
// reaper shell, started first and in its own process group, waits for the
// binary's end on a pipe, then kills the cluster and removes its directory,
// which holds the data, the socket and the log.
//
// Without the PostgreSQL binaries NewDB skips the test with a message
// naming scripts/setup.sh; any other failure fails the test.
package pgtest
