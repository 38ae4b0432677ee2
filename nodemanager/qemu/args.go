package qemu

import (
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Defaults used by Args when a field is empty.
const (
	DefaultBinary  = "qemu-system-x86_64"
	DefaultMachine = "q35"
	// MaxSocketPath is the longest unix socket path Linux accepts.
	MaxSocketPath = 107
)

// DefaultCPU is the -cpu model for an accelerator: host under KVM (the
// real CPU), max under TCG (every feature TCG emulates; faster to boot
// than the qemu64 default here). Under this machine's PVM /dev/kvm both
// host and max abort, which is one more reason it gets TCG.
func DefaultCPU(accel string) string {
	if accel == "kvm" {
		return "host"
	}
	return "max"
}

// Options is everything that goes on a QEMU command line. Args turns it
// into argv; it does no I/O.
type Options struct {
	Binary    string // default DefaultBinary
	Name      string // -name, e.g. tashi-42
	Accel     string // kvm or tcg
	Machine   string // default DefaultMachine
	CPU       string // default DefaultCPU(Accel)
	Cores     int
	MemoryMiB int
	Disks     []vmm.Disk // virtio-blk, in order
	NICs      []vmm.NIC  // virtio-net; Tap "" means user-mode networking (tests only)
	Boot      vmm.Boot   // direct kernel boot when Kernel is set, else firmware from disk 0
	CDROM     bool       // an empty IDE cdrom (qdev id cdrom0) for changeCdrom; q35 and pc only

	QMPSocket    string // required: QMP server socket
	SerialSocket string // serial console as a server socket (startConsole), optional
	SerialLog    string // everything the serial console prints, optional
	VNCSocket    string // VNC server on a unix socket; "" means -vnc none
	VGA          string // display adapter (std, virtio, ...); "" means none
	PIDFile      string // -pidfile, optional
	Incoming     string // "" or "defer"
	NoReboot     bool   // -no-reboot: a guest reboot makes QEMU exit
	Extra        []string
}

var (
	modelRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	cpuRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._,+=-]*$`)
	tapRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)
)

// Args validates o and returns QEMU's argv, the binary first. Errors are
// *OptionError naming the bad field.
func Args(o Options) ([]string, error) {
	o = withDefaults(o)
	if err := validate(o); err != nil {
		return nil, err
	}
	a := []string{o.Binary}
	add := func(s ...string) { a = append(a, s...) }
	if o.Name != "" {
		add("-name", optValue(o.Name))
	}
	add("-nodefaults", "-no-user-config", "-display", "none")
	if o.NoReboot {
		add("-no-reboot")
	}
	add("-machine", o.Machine, "-accel", o.Accel, "-cpu", o.CPU)
	add("-smp", strconv.Itoa(o.Cores), "-m", strconv.Itoa(o.MemoryMiB))
	if o.PIDFile != "" {
		add("-pidfile", o.PIDFile)
	}
	add("-qmp", "unix:"+optValue(o.QMPSocket)+",server=on,wait=off")
	a = append(a, serialArgs(o)...)
	if o.VNCSocket != "" {
		add("-vnc", "unix:"+optValue(o.VNCSocket))
	} else {
		add("-vnc", "none")
	}
	if o.VGA != "" {
		add("-vga", o.VGA)
	}
	if o.Boot.Kernel != "" {
		add("-kernel", o.Boot.Kernel)
		if o.Boot.Initrd != "" {
			add("-initrd", o.Boot.Initrd)
		}
		if o.Boot.Append != "" {
			add("-append", o.Boot.Append)
		}
	}
	a = append(a, diskArgs(o)...)
	a = append(a, nicArgs(o)...)
	if o.Incoming != "" {
		add("-incoming", o.Incoming)
	}
	return append(a, o.Extra...), nil
}

func withDefaults(o Options) Options {
	if o.Binary == "" {
		o.Binary = DefaultBinary
	}
	if o.Machine == "" {
		o.Machine = DefaultMachine
	}
	if o.CPU == "" {
		o.CPU = DefaultCPU(o.Accel)
	}
	return o
}

// optValue escapes a value inside a QEMU -opt list (a comma is doubled).
func optValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }

func microvm(o Options) bool { return strings.HasPrefix(o.Machine, "microvm") }

// virtioDev is the virtio device for the machine: PCI, or MMIO on microvm.
func virtioDev(o Options, kind string) string {
	if microvm(o) {
		return "virtio-" + kind + "-device"
	}
	return "virtio-" + kind + "-pci"
}

func serialArgs(o Options) []string {
	switch {
	case o.SerialSocket != "":
		v := "socket,id=serial0,path=" + optValue(o.SerialSocket) + ",server=on,wait=off"
		if o.SerialLog != "" {
			v += ",logfile=" + optValue(o.SerialLog) + ",logappend=on"
		}
		return []string{"-chardev", v, "-serial", "chardev:serial0"}
	case o.SerialLog != "":
		return []string{"-chardev", "file,id=serial0,path=" + optValue(o.SerialLog) + ",append=on",
			"-serial", "chardev:serial0"}
	}
	return nil
}

func diskArgs(o Options) []string {
	var a []string
	for i, d := range o.Disks {
		id := "disk" + strconv.Itoa(i)
		drive := "file=" + optValue(d.Path) + ",format=" + d.Format + ",if=none,id=" + id
		if d.ReadOnly {
			drive += ",readonly=on"
		}
		dev := virtioDev(o, "blk") + ",drive=" + id + ",id=virtio-" + id
		if i == 0 && o.Boot.Kernel == "" {
			dev += ",bootindex=0"
		}
		a = append(a, "-drive", drive, "-device", dev)
	}
	if o.CDROM {
		a = append(a, "-drive", "if=none,id=cd0,media=cdrom,readonly=on",
			"-device", "ide-cd,drive=cd0,id=cdrom0")
	}
	return a
}

func nicArgs(o Options) []string {
	var a []string
	for i, n := range o.NICs {
		id := "net" + strconv.Itoa(i)
		nd := "user,id=" + id
		if n.Tap != "" {
			nd = "tap,id=" + id + ",ifname=" + n.Tap + ",script=no,downscript=no,vhost=off"
		}
		a = append(a, "-netdev", nd,
			"-device", virtioDev(o, "net")+",netdev="+id+",mac="+strings.ToLower(n.MAC)+",id=nic"+strconv.Itoa(i))
	}
	return a
}

func validate(o Options) error {
	if err := validateMachine(o); err != nil {
		return err
	}
	for i, d := range o.Disks {
		f := "Disks[" + strconv.Itoa(i) + "]"
		if !filepath.IsAbs(d.Path) {
			return badOption(f+".Path", d.Path, "must be an absolute path")
		}
		if d.Format != "qcow2" && d.Format != "raw" {
			return badOption(f+".Format", d.Format, "accepted: qcow2, raw")
		}
	}
	for i, n := range o.NICs {
		f := "NICs[" + strconv.Itoa(i) + "]"
		if hw, err := net.ParseMAC(n.MAC); err != nil || len(hw) != 6 || hw[0]&1 != 0 {
			return badOption(f+".MAC", n.MAC, "must be a unicast MAC like 52:54:00:12:34:56")
		}
		if n.Tap != "" && !tapRe.MatchString(n.Tap) {
			return badOption(f+".Tap", n.Tap, "must be an interface name of 1-15 letters, digits, '_', '.', '-'")
		}
	}
	if err := validateBoot(o); err != nil {
		return err
	}
	return validatePaths(o)
}

func validateMachine(o Options) error {
	switch {
	case o.Accel != "kvm" && o.Accel != "tcg":
		return badOption("Accel", o.Accel, "accepted: kvm, tcg")
	case !modelRe.MatchString(o.Machine):
		return badOption("Machine", o.Machine, "must be a machine type such as q35, pc or microvm")
	case !cpuRe.MatchString(o.CPU):
		return badOption("CPU", o.CPU, "must be a CPU model such as max or host, optionally with ,features")
	case o.Cores < 1 || o.Cores > 255:
		return badOption("Cores", o.Cores, "must be 1..255")
	case o.MemoryMiB < 16 || o.MemoryMiB > 1<<20:
		return badOption("MemoryMiB", o.MemoryMiB, "must be 16..1048576")
	case o.CDROM && microvm(o):
		return badOption("CDROM", o.CDROM, "microvm has no IDE bus; use q35 or pc")
	case o.VGA != "" && !modelRe.MatchString(o.VGA):
		return badOption("VGA", o.VGA, "must be a -vga type such as std or virtio")
	case o.Incoming != "" && o.Incoming != "defer":
		return badOption("Incoming", o.Incoming, `accepted: "" or "defer"`)
	case strings.ContainsAny(o.Name, "\x00\n"):
		return badOption("Name", o.Name, "must be one line")
	}
	return nil
}

func validateBoot(o Options) error {
	b := o.Boot
	switch {
	case b.Kernel != "" && !filepath.IsAbs(b.Kernel):
		return badOption("Boot.Kernel", b.Kernel, "must be an absolute path")
	case b.Initrd != "" && (b.Kernel == "" || !filepath.IsAbs(b.Initrd)):
		return badOption("Boot.Initrd", b.Initrd, "needs Boot.Kernel and an absolute path")
	case b.Append != "" && b.Kernel == "":
		return badOption("Boot.Append", b.Append, "needs Boot.Kernel")
	case b.Kernel == "" && len(o.Disks) == 0 && o.Incoming == "":
		return badOption("Disks", o.Disks, "need a disk to boot from when Boot.Kernel is empty")
	}
	return nil
}

func validatePaths(o Options) error {
	if o.QMPSocket == "" {
		return badOption("QMPSocket", o.QMPSocket, "is required")
	}
	for _, p := range []struct{ field, path string }{{"QMPSocket", o.QMPSocket},
		{"SerialSocket", o.SerialSocket}, {"VNCSocket", o.VNCSocket}} {
		if p.path == "" {
			continue
		}
		if !filepath.IsAbs(p.path) || len(p.path) > MaxSocketPath {
			return badOption(p.field, p.path, "must be an absolute path of at most %d bytes", MaxSocketPath)
		}
	}
	for _, p := range []struct{ field, path string }{{"SerialLog", o.SerialLog}, {"PIDFile", o.PIDFile}} {
		if p.path != "" && !filepath.IsAbs(p.path) {
			return badOption(p.field, p.path, "must be an absolute path")
		}
	}
	return nil
}
