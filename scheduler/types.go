package scheduler

import "time"

// Snapshot is the cluster as Place sees it. Place never modifies it.
type Snapshot struct {
	Hosts []Host
	// Instances are the VMs already on a host (any state but Exited). They
	// feed affinity, anti-affinity and the persistent disks in use; their
	// cores and memory are already counted in their host's UsedCores and
	// UsedMemory.
	Instances []Instance
	Policy    Policy
}

// HostState is Tashi's host state. Only Normal hosts take new VMs.
type HostState uint8

const (
	HostNormal HostState = iota
	HostDrained
	HostVersionMismatch
)

func (s HostState) String() string {
	switch s {
	case HostNormal:
		return "Normal"
	case HostDrained:
		return "Drained"
	case HostVersionMismatch:
		return "VersionMismatch"
	}
	return "unknown"
}

// Host is one machine. Memory is what it offers guests, already net of
// the host's own reservedMem.
type Host struct {
	ID          int64
	Name        string
	Up          bool
	State       HostState
	Cores       int
	Memory      int // MiB
	UsedCores   int
	UsedMemory  int     // MiB
	ReservedFor []int64 // user ids; empty: anyone
	// From the last heartbeat; no filter reads them. ScoreLoad does, for
	// load-aware requests (hint loadAware, else Policy.LoadAware).
	Load1      float64
	FreeMemory int // MiB
	// Rack is the host's place in the network topology: hosts with the
	// same non-empty Rack share a top-of-rack switch. "" is unknown: such
	// a host is rack-local to nothing. The agent fills it; FromAPI cannot.
	Rack string
}

// Instance is a VM already placed on Host.
type Instance struct {
	ID              int64
	Host            int64
	Group           int64 // 0: not in a group
	User            int64
	Affinity        Label
	AntiAffinity    Label
	PersistentDisks []string
}

// Label is an affinity or anti-affinity hint: "web" (hard) or "web:soft".
// The zero Label means no hint.
type Label struct {
	Name string
	Soft bool
}

// Request asks for one Pending instance to be placed.
type Request struct {
	InstanceID      int64
	Version         int64 // the instance version the plan will carry
	User            int64
	Cores           int
	Memory          int // MiB
	Group           int64
	Hints           Hints
	Priority        int       // higher first
	Created         time.Time // FIFO within a priority
	PersistentDisks []string  // image names the instance writes in place
	AvoidHosts      []int64   // hosts its activation failed on (a Held VM placed again)
	// Data is what the instance will read, resolved by the agent from the
	// hint dfsFiles (see Data); nil when the request names no files.
	Data *Data
}

// Data is the data a request reads, as blocks of a distributed file
// system, already resolved by the agent: it asks its Data Location plugin
// for the blocks of the files in Hints.DFSFiles and maps the storage
// hosts to host ids. The scheduler never reads a file.
type Data struct {
	// Blocks are the blocks the request must read or, with Group, that
	// its whole group must read between its members.
	Blocks []Block
	// Group: the blocks are shared by the request's group (a createMany
	// with the same non-zero Request.Group). Place splits them among the
	// members it places in one call, each block to exactly one member
	// (Placement.Blocks), placing the members near their shares. The
	// agent gives every Pending member of the group the same Data (the
	// same pointer is fine); Place uses the first member's, in queue
	// order. Without a group (Request.Group 0) Group is ignored.
	Group bool
}

// Block is one block of a file: its size and the hosts holding a replica.
type Block struct {
	Bytes int64   // a negative size counts as 0
	Hosts []int64 // host ids holding a replica; ids not in the snapshot are ignored
}

// Hints are a request's parsed --hints (see ParseHints).
type Hints struct {
	TargetHost     string // host id or name; "" for any
	AllowElsewhere bool   // with TargetHost: fall back to any host
	DensePack      *bool  // nil: the site's Policy.DensePack
	Affinity       Label  // stay with the group's members of this label
	AntiAffinity   Label  // stay away from the group's members of this label
	Gang           bool   // all of the group or none
	// DFSFiles are the absolute paths of the files the instance reads
	// (hint dfsFiles). Place does not read them: the agent resolves them
	// into Request.Data.
	DFSFiles  []string
	LoadAware *bool // nil: the site's Policy.LoadAware
	// Invalid, when not empty, says why the hints could not be parsed;
	// such a request is not placed.
	Invalid string
}

// Policy is the site's scheduling configuration, passed in the snapshot
// so that Place stays a function of its arguments.
type Policy struct {
	// DensePack is Tashi's [Primitive] densePack: prefer fuller hosts.
	// Off means spread: prefer emptier hosts. A request's densePack hint
	// overrides it.
	DensePack bool
	// CandidateLimit is how many feasible hosts are scored per request:
	// 0 means DefaultCandidateLimit, a negative value means every feasible
	// host (exhaustive; for tests and measurement).
	CandidateLimit int
	// Scorers rank feasible hosts; nil means DefaultScorers().
	Scorers []Scorer
	// GangTimeout, when positive, marks the Explanation of a gang member
	// that has waited longer than this as Expired, so that the agent can
	// fail the group instead of leaving it Pending.
	GangTimeout time.Duration
	// LoadAware adds ScoreLoad (the last heartbeat's load and free
	// memory) to every request's score; a request's loadAware hint
	// overrides it.
	LoadAware bool
	// LocalityWeight is ScoreLocality's weight in the default scorers: 0
	// means DefaultLocalityWeight; a negative value turns locality off
	// (data is not scored, and a group's hosts are chosen as if it read
	// nothing; its blocks are still split among its members).
	LocalityWeight float64
	// RackCredit is how much a byte held in the host's rack (but not on
	// the host) counts against one on the host, in 0..1: 0 means
	// DefaultRackCredit, a negative value means none.
	RackCredit float64
	// LoadWeight is ScoreLoad's weight for load-aware requests: 0 means
	// DefaultLoadWeight.
	LoadWeight float64
}

// Result is what Place decided.
type Result struct {
	Placements []Placement
	Unplaced   []Explanation // one per request not placed, in queue order, duplicates last
}

// Placement puts one instance, at the version seen, on a host.
type Placement struct {
	InstanceID int64
	Version    int64
	HostID     int64
	Gang       int64   // the group id when placed as part of a gang, else 0
	Score      float64 // the winning host's weighted score
	// For a request with Data: what it reads and where that is. For a
	// member of a data group they count its own share.
	RequestedBytes int64 // bytes it reads
	LocalBytes     int64 // of those, held on its host (node-local)
	RackBytes      int64 // held in its host's rack but not on its host (rack-local)
	// Blocks are, for a member of a data group, the indexes into its
	// Request.Data.Blocks of the blocks it was given (ascending; possibly
	// none when the group has more members than blocks). nil for any
	// other request: an ungrouped request reads all of its blocks.
	Blocks []int
}
