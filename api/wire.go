package api

import "time"

// This file holds the request and response bodies that are not records.

// AddHostRequest is addHost. Cores and memory may be zero: the node
// manager fills them in when it registers.
type AddHostRequest struct {
	Name   string `json:"name"`
	Cores  int    `json:"cores,omitempty"`
	Memory int    `json:"memory,omitempty"`
}

// HostStateRequest is setHostState: Normal or Drained.
type HostStateRequest struct {
	State string `json:"state"`
}

// HostNotesRequest is setHostNotes.
type HostNotesRequest struct {
	Notes string `json:"notes"`
}

// ReservationRequest names the user a host is reserved for.
type ReservationRequest struct {
	User string `json:"user"`
}

// AddUserRequest is addUser.
type AddUserRequest struct {
	Name         string `json:"name"`
	Role         Role   `json:"role,omitempty"`
	MaxInstances int    `json:"maxInstances,omitempty"`
	MaxCores     int    `json:"maxCores,omitempty"`
	MaxMemory    int    `json:"maxMemory,omitempty"`
}

// AddImageRequest registers a base image by name.
type AddImageRequest struct {
	Name string `json:"name"`
	Size int64  `json:"size,omitempty"`
}

// ImageOpRequest is copyImage, cloneImage or rebaseImage.
type ImageOpRequest struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
}

// MigrateRequest is migrateVm's target.
type MigrateRequest struct {
	Host string `json:"host"`
}

// VMMCallRequest is vmmSpecificCall's argument.
type VMMCallRequest struct {
	Arg string `json:"arg"`
}

// VMMCall is a recorded vmmSpecificCall; an agent carries it to the node
// manager and records the answer.
type VMMCall struct {
	ID         int64     `json:"id"`
	InstanceID int64     `json:"instanceId"`
	Arg        string    `json:"arg"`
	Status     string    `json:"status"` // pending, done, failed
	Result     string    `json:"result,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
}

// RegisterRequest is registerNodeManager.
type RegisterRequest struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"` // host:port of the NM API
	// TunnelAddress is where this host ends VXLAN tunnels ("" for none).
	TunnelAddress string    `json:"tunnelAddress,omitempty"`
	Version       string    `json:"version"`
	Cores         int       `json:"cores"`
	Memory        int       `json:"memory"`
	Stats         HostStats `json:"stats"`
}

// RegisterResponse tells a node manager its host id and state.
type RegisterResponse struct {
	HostID int64     `json:"hostId"`
	State  HostState `json:"state"`
}

// VMReport is one guest in a heartbeat.
type VMReport struct {
	InstanceID int64         `json:"instanceId"`
	State      InstanceState `json:"state"`
	VMID       string        `json:"vmId,omitempty"`
	CPUSeconds float64       `json:"cpuSeconds,omitempty"`
	RSS        int64         `json:"rss,omitempty"`
}

// Heartbeat is what a node manager sends every registerFrequency.
type Heartbeat struct {
	HostID int64      `json:"hostId"`
	Stats  HostStats  `json:"stats"`
	VMs    []VMReport `json:"vms"`
}

// StateChange is vmStateChange: a node manager saw a guest change state.
type StateChange struct {
	InstanceID int64         `json:"instanceId"`
	HostID     int64         `json:"hostId"`
	Old        InstanceState `json:"old"`
	New        InstanceState `json:"new"`
	VMID       string        `json:"vmId,omitempty"`
	Error      string        `json:"error,omitempty"`
}

// Snapshot is the agents' view of the cluster at one index.
type Snapshot struct {
	Index        uint64            `json:"index"`
	Now          time.Time         `json:"now"`
	Hosts        []Host            `json:"hosts"`
	Instances    []Instance        `json:"instances"`
	Networks     []Network         `json:"networks"`
	Reservations map[int64][]int64 `json:"reservations"` // host id -> user ids
}

// WatchResult answers a watch: Changed is false when the wait ran out.
type WatchResult struct {
	Index   uint64 `json:"index"`
	Changed bool   `json:"changed"`
}

// Placement puts one instance (at the version the agent saw) on a host.
type Placement struct {
	InstanceID int64 `json:"instanceId"`
	Version    int64 `json:"version"`
	HostID     int64 `json:"hostId"`
}

// Plan is an agent's proposal. With Atomic, either every placement is
// accepted or none is (gangs).
type Plan struct {
	Agent      string      `json:"agent"`
	Atomic     bool        `json:"atomic,omitempty"`
	Placements []Placement `json:"placements"`
}

// PlanResult says, per placement, what the CM accepted and why not.
type PlanResult struct {
	Results []PlacementResult `json:"results"`
}

// PlacementResult is the CM's verdict on one placement.
type PlacementResult struct {
	InstanceID int64  `json:"instanceId"`
	Accepted   bool   `json:"accepted"`
	Reason     string `json:"reason,omitempty"`
	// Stale: the instance is gone or another plan holds it; planning it
	// again now cannot help (that plan's commit wakes the agents anyway).
	Stale bool `json:"stale,omitempty"`
}

// ClaimRequest asks for the right to carry out an instance's pending
// transition for TTLSeconds.
type ClaimRequest struct {
	InstanceID int64  `json:"instanceId"`
	Version    int64  `json:"version"`
	Owner      string `json:"owner"`
	TTLSeconds int    `json:"ttlSeconds,omitempty"`
}

// Claim is a granted claim.
type Claim struct {
	ID       string    `json:"id"`
	Instance Instance  `json:"instance"`
	Expires  time.Time `json:"expires"`
}

// ClaimOutcome reports how the claimed transition ended.
type ClaimOutcome struct {
	Event  Event    `json:"event"` // opFinished, opFailed or migrateGo
	Error  string   `json:"error,omitempty"`
	VMID   string   `json:"vmId,omitempty"`
	HostID *int64   `json:"hostId,omitempty"` // the new host after a migration
	Stats  *OpStats `json:"stats,omitempty"`  // what a suspend, resume or migration measured
}
