package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"os"
)

// Thin typed wrappers over Run for the commands the node manager uses.

// Stop pauses the vCPUs.
func (m *Monitor) Stop(ctx context.Context) error { return m.Run(ctx, "stop", nil, nil) }

// Cont resumes the vCPUs.
func (m *Monitor) Cont(ctx context.Context) error { return m.Run(ctx, "cont", nil, nil) }

// SystemPowerdown presses the ACPI power button.
func (m *Monitor) SystemPowerdown(ctx context.Context) error {
	return m.Run(ctx, "system_powerdown", nil, nil)
}

// SystemReset resets the machine.
func (m *Monitor) SystemReset(ctx context.Context) error {
	return m.Run(ctx, "system_reset", nil, nil)
}

// Quit makes QEMU exit. QEMU may close the socket before its reply
// arrives; that counts as success.
func (m *Monitor) Quit(ctx context.Context) error {
	err := m.Run(ctx, "quit", nil, nil)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// StatusInfo is query-status's answer.
type StatusInfo struct {
	Running bool   `json:"running"`
	Status  string `json:"status"` // running, paused, inmigrate, postmigrate, shutdown, ...
}

// QueryStatus reports the run state.
func (m *Monitor) QueryStatus(ctx context.Context) (StatusInfo, error) {
	var s StatusInfo
	err := m.Run(ctx, "query-status", nil, &s)
	return s, err
}

// CPUInfoFast is one entry of query-cpus-fast.
type CPUInfoFast struct {
	CPUIndex int    `json:"cpu-index"`
	QOMPath  string `json:"qom-path"`
	ThreadID int    `json:"thread-id"`
	Target   string `json:"target"`
}

// QueryCPUsFast lists the vCPUs and their host threads.
func (m *Monitor) QueryCPUsFast(ctx context.Context) ([]CPUInfoFast, error) {
	var c []CPUInfoFast
	err := m.Run(ctx, "query-cpus-fast", nil, &c)
	return c, err
}

// SchemaEntry is one entity of query-qmp-schema (only the common members).
type SchemaEntry struct {
	Name     string `json:"name"`
	MetaType string `json:"meta-type"`
}

// QueryQMPSchema returns the introspected schema (about 200 KB on 7.2).
func (m *Monitor) QueryQMPSchema(ctx context.Context) ([]SchemaEntry, error) {
	var s []SchemaEntry
	err := m.Run(ctx, "query-qmp-schema", nil, &s)
	return s, err
}

// HumanMonitorCommand runs an HMP command line and returns its output.
func (m *Monitor) HumanMonitorCommand(ctx context.Context, line string) (string, error) {
	var out string
	err := m.Run(ctx, "human-monitor-command", map[string]string{"command-line": line}, &out)
	return out, err
}

// MigrationCapability is one entry for migrate-set-capabilities.
type MigrationCapability struct {
	Capability string `json:"capability"` // e.g. events
	State      bool   `json:"state"`
}

// MigrateSetCapabilities sets migration capabilities.
func (m *Monitor) MigrateSetCapabilities(ctx context.Context, caps ...MigrationCapability) error {
	return m.Run(ctx, "migrate-set-capabilities", map[string]any{"capabilities": caps}, nil)
}

// MigrationParameters are the migrate-set-parameters members we use; nil
// members are left unchanged.
type MigrationParameters struct {
	MaxBandwidth  *int64 `json:"max-bandwidth,omitempty"`  // bytes per second
	DowntimeLimit *int64 `json:"downtime-limit,omitempty"` // milliseconds
}

// MigrateSetParameters sets migration parameters.
func (m *Monitor) MigrateSetParameters(ctx context.Context, p MigrationParameters) error {
	return m.Run(ctx, "migrate-set-parameters", p, nil)
}

// Migrate starts an outgoing migration to uri (tcp:host:port, fd:name,
// exec:cmd). It returns once started; see QueryMigrate.
func (m *Monitor) Migrate(ctx context.Context, uri string) error {
	return m.Run(ctx, "migrate", map[string]string{"uri": uri}, nil)
}

// MigrateIncoming starts receiving on a guest started with -incoming defer.
func (m *Monitor) MigrateIncoming(ctx context.Context, uri string) error {
	return m.Run(ctx, "migrate-incoming", map[string]string{"uri": uri}, nil)
}

// MigrateCancel cancels an outgoing migration.
func (m *Monitor) MigrateCancel(ctx context.Context) error {
	return m.Run(ctx, "migrate_cancel", nil, nil)
}

// MigrationRAM is the ram member of query-migrate.
type MigrationRAM struct {
	Transferred int64   `json:"transferred"`
	Remaining   int64   `json:"remaining"`
	Total       int64   `json:"total"`
	Duplicate   int64   `json:"duplicate"`
	Normal      int64   `json:"normal"`
	Mbps        float64 `json:"mbps"`
}

// SocketAddress is a flattened QAPI SocketAddress (inet or unix).
type SocketAddress struct {
	Type string `json:"type"`
	Host string `json:"host,omitempty"`
	Port string `json:"port,omitempty"`
	Path string `json:"path,omitempty"`
}

// MigrationInfo is query-migrate's answer. Times are milliseconds.
type MigrationInfo struct {
	Status           string          `json:"status"` // none, setup, active, completed, failed, cancelled, ...
	TotalTime        int64           `json:"total-time"`
	Downtime         int64           `json:"downtime"`
	ExpectedDowntime int64           `json:"expected-downtime"`
	SetupTime        int64           `json:"setup-time"`
	ErrorDesc        string          `json:"error-desc"`
	RAM              *MigrationRAM   `json:"ram"`
	SocketAddress    []SocketAddress `json:"socket-address"` // incoming side: where it listens
}

// QueryMigrate reports the current or last migration.
func (m *Monitor) QueryMigrate(ctx context.Context) (MigrationInfo, error) {
	var mi MigrationInfo
	err := m.Run(ctx, "query-migrate", nil, &mi)
	return mi, err
}

// GetFD hands f to QEMU under name (for fd:name migration URIs). The
// caller keeps its own copy of f and should close it when QEMU has it.
func (m *Monitor) GetFD(ctx context.Context, name string, f *os.File) error {
	return m.RunWithFile(ctx, "getfd", map[string]string{"fdname": name}, nil, f)
}

// CloseFD makes QEMU close a descriptor passed with GetFD and not used.
func (m *Monitor) CloseFD(ctx context.Context, name string) error {
	return m.Run(ctx, "closefd", map[string]string{"fdname": name}, nil)
}

// SetAction changes what QEMU does on reboot, shutdown, panic or watchdog
// (e.g. {"reboot": "reset"} or {"reboot": "shutdown"}).
func (m *Monitor) SetAction(ctx context.Context, actions map[string]string) error {
	return m.Run(ctx, "set-action", actions, nil)
}

// BlockdevChangeMedium inserts filename into the removable drive whose
// qdev id is id (e.g. a cdrom), opening and closing its tray.
func (m *Monitor) BlockdevChangeMedium(ctx context.Context, id, filename, format string) error {
	args := map[string]string{"id": id, "filename": filename}
	if format != "" {
		args["format"] = format
	}
	return m.Run(ctx, "blockdev-change-medium", args, nil)
}

// VNCInfo is the part of query-vnc we use.
type VNCInfo struct {
	Enabled bool              `json:"enabled"`
	Family  string            `json:"family"`
	Service string            `json:"service"`
	Clients []json.RawMessage `json:"clients"`
}

// QueryVNC reports the VNC server.
func (m *Monitor) QueryVNC(ctx context.Context) (VNCInfo, error) {
	var v VNCInfo
	err := m.Run(ctx, "query-vnc", nil, &v)
	return v, err
}
