// Package datalocation is Tashi's Data Location Service: it tells the
// scheduler which storage hosts hold each block of a file, so that a VM can
// be placed next to its data.
//
// A Locator answers BlockInfoByteRange(file, offset, length) with the blocks
// overlapping that byte range, each with its own byte range and the hosts that
// store it, named as the distributed file system names them (an IP address for
// MooseFS, a DataNode host name for HDFS). A HostMap turns those storage host
// names into compute host names.
//
// Implementations live in sub-packages (moosefs, webhdfs) and are chosen by
// name through an explicit Registry; builtin.NewRegistry wires the in-tree ones.
// Package moosefstest starts a real MooseFS for tests.
package datalocation
