package api

import (
	"strings"
	"time"
)

// Role is what a credential may do. Users act on their own instances,
// admins on everything, node managers and agents only on their own endpoints.
type Role string

const (
	RoleUser        Role = "user"
	RoleAdmin       Role = "admin"
	RoleNodeManager Role = "nodemanager"
	RoleAgent       Role = "agent"
)

// Roles lists the accepted roles, for error messages and validation.
var Roles = []Role{RoleUser, RoleAdmin, RoleNodeManager, RoleAgent}

// Disk is one disk of an instance: an image name relative to the image
// store, and whether the instance writes to it in place.
type Disk struct {
	URI        string `json:"uri"`
	Persistent bool   `json:"persistent,omitempty"`
}

// NIC is one network interface. Network is a network name or id ("" means
// the default network); IP is empty unless the user asked for a fixed
// address; MAC is filled in by the CM when empty.
type NIC struct {
	Network string `json:"network,omitempty"`
	IP      string `json:"ip,omitempty"`
	MAC     string `json:"mac,omitempty"`
}

// InstanceSpec is what a user asks for in createVm and createMany.
type InstanceSpec struct {
	Name   string            `json:"name"`
	UserID int64             `json:"userId,omitempty"`
	Cores  int               `json:"cores"`
	Memory int               `json:"memory"` // MiB
	Disks  []Disk            `json:"disks"`
	NICs   []NIC             `json:"nics,omitempty"`
	Hints  map[string]string `json:"hints,omitempty"`
}

// ManySpec is a createMany request: Count copies of Spec named
// Basename-0 .. Basename-(Count-1), all in one group.
type ManySpec struct {
	Basename string       `json:"basename"`
	Count    int          `json:"count"`
	Spec     InstanceSpec `json:"spec"`
}

// Instance is a VM as recorded by the CM.
type Instance struct {
	ID        int64             `json:"id"`
	Name      string            `json:"name"`
	UserID    int64             `json:"userId"`
	UserName  string            `json:"user"`
	State     InstanceState     `json:"state"`
	HostID    *int64            `json:"hostId"`
	HostName  string            `json:"hostName,omitempty"`
	TargetID  *int64            `json:"targetHostId,omitempty"` // where a migration goes
	Cores     int               `json:"cores"`
	Memory    int               `json:"memory"`
	Disks     []Disk            `json:"disks"`
	NICs      []NIC             `json:"nics"`
	Hints     map[string]string `json:"hints,omitempty"`
	GroupID   *int64            `json:"groupId,omitempty"`
	Version   int64             `json:"version"`
	VMID      string            `json:"vmId,omitempty"`
	Error     string            `json:"error,omitempty"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
	// Placement says why the instance is not placed yet (or, later, what
	// locality its placement achieved); FailedHosts are hosts where its
	// activation failed, avoided when it is placed again.
	Placement   *Explanation `json:"placement,omitempty"`
	FailedHosts []int64      `json:"failedHosts,omitempty"`
}

// Explanation is an agent's account of a placement decision: for an
// instance left Pending, how many hosts each filter rejected and a
// one-line summary; for a placed one, where it went and, when it reads
// data (hint dfsFiles), the locality achieved.
type Explanation struct {
	InstanceID int64          `json:"instanceId"`
	Message    string         `json:"message"`
	Rejected   map[string]int `json:"rejected,omitempty"` // reason -> hosts
	Considered int            `json:"considered,omitempty"`
	// Locality is, for a placed instance with data, how much of it is on
	// its host and in its rack: "locality 812/1024 MiB node-local, 150
	// MiB rack-local".
	Locality string    `json:"locality,omitempty"`
	At       time.Time `json:"at"`
}

// Group is the result of createMany.
type Group struct {
	ID        int64      `json:"id"`
	Basename  string     `json:"basename"`
	Instances []Instance `json:"instances"`
}

// Host is a machine that runs a node manager. Up is derived at read time
// from the last heartbeat and expireHostTime.
type Host struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	State         HostState  `json:"state"`
	Up            bool       `json:"up"`
	Cores         int        `json:"cores"`
	Memory        int        `json:"memory"` // MiB offered to guests
	Version       string     `json:"version"`
	Address       string     `json:"address,omitempty"`       // the node manager's API
	TunnelAddress string     `json:"tunnelAddress,omitempty"` // VXLAN underlay address
	Notes         string     `json:"notes"`
	Reserved      []int64    `json:"reserved"`
	LastHeartbeat *time.Time `json:"lastHeartbeat,omitempty"`
	Stats         HostStats  `json:"stats"`
	UsedCores     int        `json:"usedCores"`
	UsedMemory    int        `json:"usedMemory"`
}

// HostStats is what a node manager reports about its machine.
type HostStats struct {
	Load1      float64 `json:"load1,omitempty"`
	FreeMemory int     `json:"freeMemory,omitempty"` // MiB
	Accel      string  `json:"accel,omitempty"`      // kvm or tcg
}

// Network is an isolated segment guests attach to.
type Network struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"` // bridge, vxlan, vlan
	SegmentID int    `json:"segmentId"`
	CIDR      string `json:"cidr"`
	Gateway   string `json:"gateway,omitempty"`
	Domain    string `json:"domain,omitempty"`
	MTU       int    `json:"mtu,omitempty"`
	Default   bool   `json:"default"`
	// Ranges are the address ranges guests get addresses from, each
	// "FIRST-LAST" (or one address). Empty on addNetwork: the CIDR's
	// host addresses. The gateway is never given to a guest.
	Ranges []string `json:"ranges,omitempty"`
}

// DefaultDomain is the DNS domain of a network recorded without one.
const DefaultDomain = "tashi.internal"

// FQDN is the DNS name of a guest on a network with this domain.
func FQDN(name, domain string) string { return strings.ToLower(name) + "." + DomainFQDN(domain) }

// DomainFQDN is a network's DNS domain as a lowercase FQDN (the default
// domain when it has none).
func DomainFQDN(domain string) string {
	if domain == "" {
		domain = DefaultDomain
	}
	return strings.ToLower(strings.TrimSuffix(domain, ".") + ".")
}

// NetworkKinds lists the accepted network isolation kinds.
var NetworkKinds = []string{"bridge", "vxlan", "vlan"}

// User is an account. The token is returned only when the user is created.
type User struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	MaxInstances int    `json:"maxInstances"` // 0: unlimited
	MaxCores     int    `json:"maxCores"`
	MaxMemory    int    `json:"maxMemory"`
	Token        string `json:"token,omitempty"`
}

// Quota is the part of a User an admin may change with setQuota.
type Quota struct {
	MaxInstances *int `json:"maxInstances,omitempty"`
	MaxCores     *int `json:"maxCores,omitempty"`
	MaxMemory    *int `json:"maxMemory,omitempty"`
}

// Image is a base image known to the CM.
type Image struct {
	ID     int64  `json:"id"`
	Name   string `json:"imageName"`
	Size   int64  `json:"imageSize"`
	HeldBy *int64 `json:"heldBy,omitempty"` // instance holding it persistently
}

// LogEntry is one line of the append-only event log.
type LogEntry struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	InstanceID *int64         `json:"instanceId,omitempty"`
	HostID     *int64         `json:"hostId,omitempty"`
	Actor      string         `json:"actor"`
	Kind       string         `json:"kind"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// Slots answers getSlots.
type Slots struct {
	Cores  int `json:"cores"`
	Memory int `json:"memory"`
	Slots  int `json:"slots"`
}

// LayoutHost is one row of getVmLayout.
type LayoutHost struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	State      HostState `json:"state"`
	Up         bool      `json:"up"`
	Instances  []string  `json:"instances"`
	UsedMemory int       `json:"usedMemory"`
	Memory     int       `json:"memory"`
	UsedCores  int       `json:"usedCores"`
	Cores      int       `json:"cores"`
}

// Message is the answer of calls that only report what they did.
type Message struct {
	Message string `json:"message"`
}
