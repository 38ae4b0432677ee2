// Package moosefs locates the chunks of files in a running MooseFS.
//
// The Locator runs `mfsfileinfo` on the file under an mfsmount point and
// turns its output (each 64 MiB chunk with its copies as ip:port) into
// datalocation.Blocks whose Hosts are chunkserver IP addresses. ParseFileInfo
// is the pure parser; it is table-tested against outputs captured from
// MooseFS 3.0.117.
//
// Configuration keys (see FromConfig): "mount" (required: the mfsmount point),
// "prefix" (the path prefix users name files by; default "/", so file
// "/data/a" lives at MOUNT/data/a; with prefix "/data" it lives at MOUNT/a),
// "mfsfileinfo" (the command to run; default "mfsfileinfo").
package moosefs
