package api

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// This file is the node manager's API: only the cluster's agents (and
// CM) call it, over mutual TLS. Every mutating call carries an operation
// id; repeating a call with the same id repeats its first answer.

// NetworkInfo is what a node manager needs to wire a NIC.
type NetworkInfo struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	SegmentID int    `json:"segmentId,omitempty"`
	CIDR      string `json:"cidr"`
	Gateway   string `json:"gateway,omitempty"`
	Domain    string `json:"domain,omitempty"`
	MTU       int    `json:"mtu,omitempty"`
}

// NMView is what every node manager follows: where the other hosts end
// their tunnels (VXLAN peers), the networks, and every guest address with
// its name, for the DNS server each node manager runs on its bridges.
type NMView struct {
	Index    uint64       `json:"index"`
	Peers    []string     `json:"peers"`
	Networks []Network    `json:"networks"`
	Names    []NameRecord `json:"names"`
}

// NameRecord is one guest NIC's address and DNS name.
type NameRecord struct {
	FQDN       string `json:"fqdn"`
	IP         string `json:"ip"`
	InstanceID int64  `json:"instanceId"`
	Name       string `json:"name"` // the instance's name (the DHCP host name)
	Network    int64  `json:"network"`
	MAC        string `json:"mac"`
	Host       int64  `json:"host,omitempty"`   // where the guest runs (0: nowhere yet)
	Target     int64  `json:"target,omitempty"` // where it is migrating to
}

// InstantiateRequest is instantiateVm (ResumeFile empty) or resumeVm.
type InstantiateRequest struct {
	OpID       string                 `json:"opId"`
	Instance   Instance               `json:"instance"`
	Networks   map[string]NetworkInfo `json:"networks,omitempty"` // by NIC network name
	ResumeFile string                 `json:"resumeFile,omitempty"`
}

// OpRequest is the body of calls that need only an operation id.
type OpRequest struct {
	OpID           string `json:"opId"`
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"` // shutdownVm: ACPI wait before destroy
	// KeepDisks, on destroy, leaves the instance's overlays in the shared
	// store: the guest is dropped here but lives on (elsewhere).
	KeepDisks bool `json:"keepDisks,omitempty"`
}

// SuspendRequest is suspendVm. The file is Tashi's suspend/<id>_<name>
// in the shared suspend area, compressed with gzip.
type SuspendRequest struct {
	OpID string `json:"opId"`
	Name string `json:"name"` // the instance's name
}

// MigrateVMRequest is the source side of a live migration.
type MigrateVMRequest struct {
	OpID        string `json:"opId"`
	Target      string `json:"target"` // host:port from prepReceiveVm
	DowntimeMs  int    `json:"downtimeMs,omitempty"`
	BandwidthMB int    `json:"bandwidthMB,omitempty"` // MiB/s
}

// PrepReceiveResponse tells the source where to send a migration.
type PrepReceiveResponse struct {
	Target string `json:"target"`
}

// OpStats reports what a suspend, resume or migration measured.
type OpStats struct {
	File       string  `json:"file,omitempty"`
	TotalMs    float64 `json:"totalMs"`
	DowntimeMs float64 `json:"downtimeMs"`
	Bytes      int64   `json:"bytes"`
}

// CallRequest is vmmSpecificCall on the node manager.
type CallRequest struct {
	Arg string `json:"arg"`
}

// VMInfo is a node manager's view of one guest.
type VMInfo struct {
	InstanceID int64         `json:"instanceId"`
	VMID       string        `json:"vmId"`
	State      InstanceState `json:"state"`
	Accel      string        `json:"accel"`
	SerialLog  string        `json:"serialLog"`
	CPUSeconds float64       `json:"cpuSeconds"`
	RSS        int64         `json:"rss"`
	Stats      *OpStats      `json:"stats,omitempty"` // what a resume measured
}

// NMClient calls one node manager.
type NMClient struct {
	BaseURL string // https://host:port
	HTTP    *http.Client
}

func (c *NMClient) do(ctx context.Context, method, path string, in, out any) error {
	cl := Client{BaseURL: c.BaseURL, HTTP: c.HTTP, RetryFor: 2 * time.Second}
	return cl.Do(ctx, method, path, in, out)
}

// Instantiate is instantiateVm (or resumeVm with ResumeFile).
func (c *NMClient) Instantiate(ctx context.Context, r InstantiateRequest) (VMInfo, error) {
	var out VMInfo
	return out, c.do(ctx, "POST", "/v1/vms", r, &out)
}

// Op runs a lifecycle operation without a body beyond its op id:
// shutdown, destroy, pause, unpause, receive.
func (c *NMClient) Op(ctx context.Context, id int64, op string, r OpRequest) (VMInfo, error) {
	var out VMInfo
	return out, c.do(ctx, "POST", fmt.Sprintf("/v1/vms/%d/%s", id, op), r, &out)
}

// Suspend is suspendVm.
func (c *NMClient) Suspend(ctx context.Context, id int64, r SuspendRequest) (OpStats, error) {
	var out OpStats
	return out, c.do(ctx, "POST", fmt.Sprintf("/v1/vms/%d/suspend", id), r, &out)
}

// PrepReceive is prepReceiveVm: start a guest waiting for a migration.
func (c *NMClient) PrepReceive(ctx context.Context, r InstantiateRequest) (PrepReceiveResponse, error) {
	var out PrepReceiveResponse
	return out, c.do(ctx, "POST", "/v1/vms/prepReceive", r, &out)
}

// Migrate is migrateVm on the source.
func (c *NMClient) Migrate(ctx context.Context, id int64, r MigrateVMRequest) (OpStats, error) {
	var out OpStats
	return out, c.do(ctx, "POST", fmt.Sprintf("/v1/vms/%d/migrate", id), r, &out)
}

// Call is vmmSpecificCall.
func (c *NMClient) Call(ctx context.Context, id int64, arg string) (Message, error) {
	var out Message
	return out, c.do(ctx, "POST", fmt.Sprintf("/v1/vms/%d/call", id), CallRequest{Arg: arg}, &out)
}

// VMs is listVms.
func (c *NMClient) VMs(ctx context.Context) ([]VMInfo, error) {
	var out []VMInfo
	return out, c.do(ctx, "GET", "/v1/vms", nil, &out)
}

// VM is getVmInfo.
func (c *NMClient) VM(ctx context.Context, id int64) (VMInfo, error) {
	var out VMInfo
	return out, c.do(ctx, "GET", fmt.Sprintf("/v1/vms/%d", id), nil, &out)
}
