// Package moosefstest starts a real, throw-away MooseFS for tests: a master
// and three chunkservers labelled A, B and C in a network namespace of their
// own (MooseFS refuses a master on 127.x), and mfsmount in the root namespace.
//
// It is a regular (non-_test) package so that tests of other packages can
// import it:
//
//	c := moosefstest.Start(t) // skips unless root with the MooseFS binaries
//	if err := c.WriteFile("/data/a", 130<<20, "B"); err != nil { ... }
//	loc, err := moosefs.FromConfig(c.LocatorConfig())
//	c.Addr("B") // "10.213.X.12", as Block.Hosts will name it
//
// Layout: namespace "mfst-<id>" holds a portless bridge with 10.213.X.1
// (master), .11, .12, .13 (chunkservers A, B, C); veth "mfst<id>" with
// 10.213.X.254 links it to the root namespace. X is picked free under a lock
// file, so several clusters (and test binaries) can run at once. Data, logs and
// the mount point live in one temporary directory. Close unmounts, kills the
// daemons by process group, deletes the namespace and the veth, and removes
// the directory. Daemons get SIGKILL if the test binary dies, but a killed
// test binary leaves the namespace, veth and a dead mount behind.
package moosefstest
