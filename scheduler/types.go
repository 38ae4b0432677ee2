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
	// From the last heartbeat; no filter or default score reads them. They
	// are here for the load scores a later issue adds.
	Load1      float64
	FreeMemory int // MiB
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
}

// Hints are a request's parsed --hints (see ParseHints).
type Hints struct {
	TargetHost     string // host id or name; "" for any
	AllowElsewhere bool   // with TargetHost: fall back to any host
	DensePack      *bool  // nil: the site's Policy.DensePack
	Affinity       Label  // stay with the group's members of this label
	AntiAffinity   Label  // stay away from the group's members of this label
	Gang           bool   // all of the group or none
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
}
