package qemu

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// base is a fixture: a valid TCG guest booting a kernel, with user-mode
// networking; cases change what they test.
func base(mod ...func(*Options)) Options {
	o := Options{Name: "tashi-7", Accel: "tcg", Cores: 1, MemoryMiB: 128,
		Boot: vmm.Boot{Kernel: "/var/lib/tashi/images/vmlinux", Initrd: "/var/lib/tashi/images/initrd.gz",
			Append: "console=ttyS0 quiet panic=-1"},
		NICs:      []vmm.NIC{{MAC: "52:54:00:00:00:07"}},
		QMPSocket: "/run/tashi/7/qmp.sock", SerialSocket: "/run/tashi/7/console.sock",
		SerialLog: "/run/tashi/7/serial.log", VNCSocket: "/run/tashi/7/vnc.sock",
		PIDFile: "/run/tashi/7/qemu.pid", NoReboot: true, CDROM: true}
	for _, m := range mod {
		m(&o)
	}
	return o
}

func TestArgsGolden(t *testing.T) {
	cases := map[string]Options{
		"tcg-kernel-user-net": base(),
		"kvm-tap-two-disks-firmware-incoming": base(func(o *Options) {
			o.Accel, o.Cores, o.MemoryMiB, o.Boot = "kvm", 4, 2048, vmm.Boot{}
			o.Disks = []vmm.Disk{{Path: "/vfs/images/7-0.qcow2", Format: "qcow2"},
				{Path: "/vfs/images/data.raw", Format: "raw", ReadOnly: true}}
			o.NICs = []vmm.NIC{{MAC: "52:54:00:AA:BB:01", Tap: "tap7-0"}, {MAC: "52:54:00:aa:bb:02", Tap: "tap7-1"}}
			o.Incoming = "defer"
		}),
		"microvm-minimal": base(func(o *Options) {
			o.Machine, o.CPU, o.CDROM, o.NoReboot = "microvm", "max,+x2apic", false, false
			o.SerialSocket, o.VNCSocket, o.PIDFile, o.Name = "", "", "", ""
			o.Disks = []vmm.Disk{{Path: "/img/root.qcow2", Format: "qcow2"}}
			o.Boot.Append += " root=/dev/vda"
		}),
		"escaped-commas-vga-extra": base(func(o *Options) {
			o.Binary, o.VGA, o.Extra = "/opt/qemu/bin/qemu-system-x86_64", "std", []string{"-S"}
			o.QMPSocket, o.SerialSocket = "/run/a,b/qmp.sock", ""
			o.Disks = []vmm.Disk{{Path: "/img/odd,name.qcow2", Format: "qcow2"}}
			o.NICs = nil
		}),
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			args, err := Args(o)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(args, "\n") + "\n"
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("args differ from %s (run go test -update to accept):\n%s", path, got)
			}
		})
	}
}

func TestArgsValidation(t *testing.T) {
	cases := []struct {
		field string
		mod   func(*Options)
	}{
		{"Accel", func(o *Options) { o.Accel = "xen" }},
		{"Machine", func(o *Options) { o.Machine = "q35,accel=kvm" }},
		{"CPU", func(o *Options) { o.CPU = "max host" }},
		{"Cores", func(o *Options) { o.Cores = 0 }},
		{"MemoryMiB", func(o *Options) { o.MemoryMiB = 8 }},
		{"Disks[0].Path", func(o *Options) { o.Disks = []vmm.Disk{{Path: "rel.qcow2", Format: "qcow2"}} }},
		{"Disks[1].Format", func(o *Options) {
			o.Disks = []vmm.Disk{{Path: "/a.qcow2", Format: "qcow2"}, {Path: "/b", Format: "vmdk"}}
		}},
		{"NICs[0].MAC", func(o *Options) { o.NICs[0].MAC = "01:00:5e:00:00:01" }},
		{"NICs[0].MAC", func(o *Options) { o.NICs[0].MAC = "nonsense" }},
		{"NICs[0].Tap", func(o *Options) { o.NICs[0].Tap = "tap,script=/bin/evil" }},
		{"Boot.Kernel", func(o *Options) { o.Boot.Kernel = "vmlinux" }},
		{"Boot.Initrd", func(o *Options) { o.Boot.Kernel = ""; o.Boot.Append = "" }},
		{"Boot.Append", func(o *Options) { o.Boot = vmm.Boot{Append: "x"}; o.Disks = []vmm.Disk{{Path: "/a", Format: "raw"}} }},
		{"Disks", func(o *Options) { o.Boot = vmm.Boot{} }},
		{"QMPSocket", func(o *Options) { o.QMPSocket = "" }},
		{"QMPSocket", func(o *Options) { o.QMPSocket = "/" + strings.Repeat("x", 120) }},
		{"SerialSocket", func(o *Options) { o.SerialSocket = "console.sock" }},
		{"PIDFile", func(o *Options) { o.PIDFile = "pid" }},
		{"Incoming", func(o *Options) { o.Incoming = "tcp:0:4444" }},
		{"CDROM", func(o *Options) { o.Machine = "microvm" }},
	}
	for _, c := range cases {
		_, err := Args(base(c.mod))
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != c.field {
			t.Errorf("%s: err = %v", c.field, err)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: message %q does not name the field", c.field, err)
		}
	}
}

func TestDefaultCPU(t *testing.T) {
	if DefaultCPU("kvm") != "host" || DefaultCPU("tcg") != "max" {
		t.Fatal(DefaultCPU("kvm"), DefaultCPU("tcg"))
	}
	args, _ := Args(base(func(o *Options) { o.Accel = "kvm" }))
	if !strings.Contains(strings.Join(args, " "), "-cpu host") {
		t.Fatalf("kvm default cpu: %v", args)
	}
}
