package pgembed

import "errors"

// ErrNoBinaries means initdb and pg_ctl were found neither on PATH nor in
// /usr/lib/postgresql/*/bin. Callers such as internal/pgtest branch on it to
// skip rather than fail.
var ErrNoBinaries = errors.New("postgresql binaries initdb and pg_ctl not found on PATH or in /usr/lib/postgresql/*/bin: run scripts/setup.sh")

// ErrNotTraversable means the postgres user, which runs the server when the
// caller is root, cannot reach the data or socket directory because a parent
// directory denies it search (x) permission.
var ErrNotTraversable = errors.New("directory not traversable by the postgres user")

// ErrNotCluster means the data directory holds files but no PG_VERSION, so
// it is neither empty (to be initialised) nor a PostgreSQL cluster.
var ErrNotCluster = errors.New("data directory is not empty and holds no postgresql cluster")

// ErrSocketPathTooLong means the unix socket path would exceed the 107-byte
// limit of sockaddr_un.
var ErrSocketPathTooLong = errors.New("unix socket path too long (limit 107 bytes)")

// ErrBadName means a database name is empty or longer than PostgreSQL's
// 63-byte identifier limit (longer names would be silently truncated).
var ErrBadName = errors.New("database name must be 1 to 63 bytes")
