package qemu

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Files in a guest's run directory, RunDir/<instance id>/.
const (
	stateName   = "state.json"   // stateFile, written atomically
	qmpName     = "qmp.sock"     // QMP server socket
	consoleName = "console.sock" // serial console server socket
	vncName     = "vnc.sock"     // VNC server socket
	serialName  = "serial.log"   // everything the serial console printed
	stderrName  = "qemu.log"     // QEMU's stdout and stderr
	pidName     = "qemu.pid"     // -pidfile
	qmpLogName  = "qmp.log"      // QMP transcript (Config.Debug)
)

// stateFile is what a later node manager needs to take a guest over.
type stateFile struct {
	Version    int       `json:"version"`
	InstanceID int64     `json:"instance_id"`
	PID        int       `json:"pid"`
	StartTicks uint64    `json:"start_ticks"` // /proc/<pid>/stat starttime, against pid reuse
	StartedAt  time.Time `json:"started_at"`
	Accel      string    `json:"accel"`
	Spec       vmm.Spec  `json:"spec"`
	Args       []string  `json:"args"`
	QMPSocket  string    `json:"qmp_socket"`
	Console    string    `json:"console_socket"`
	VNCSocket  string    `json:"vnc_socket"`
	SerialLog  string    `json:"serial_log"`
	CDROM      bool      `json:"cdrom"`
}

// paths of one guest's run directory.
type paths struct{ dir string }

func (p paths) state() string   { return filepath.Join(p.dir, stateName) }
func (p paths) qmp() string     { return filepath.Join(p.dir, qmpName) }
func (p paths) console() string { return filepath.Join(p.dir, consoleName) }
func (p paths) vnc() string     { return filepath.Join(p.dir, vncName) }
func (p paths) serial() string  { return filepath.Join(p.dir, serialName) }
func (p paths) stderr() string  { return filepath.Join(p.dir, stderrName) }
func (p paths) pid() string     { return filepath.Join(p.dir, pidName) }
func (p paths) qmpLog() string  { return filepath.Join(p.dir, qmpLogName) }

func guestDir(runDir string, id int64) paths {
	return paths{filepath.Join(runDir, strconv.FormatInt(id, 10))}
}

// writeJSONAtomic writes v to path through a temporary file, fsync and
// rename, so readers see the old or the new content, never a mix.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func readState(path string) (stateFile, error) {
	var st stateFile
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("parse %s: %w", path, err)
	}
	return st, nil
}
