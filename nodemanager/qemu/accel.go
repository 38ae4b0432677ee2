package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// hostFacts is what accelerator detection looks at; gathering it is the
// only I/O, deciding is pure (decideAccel).
type hostFacts struct {
	KVMErr  error  // opening /dev/kvm read-write; nil if it opened
	CPUInfo string // /proc/cpuinfo
	PVM     bool   // the kvm_pvm module is loaded (/sys/module/kvm_pvm)
}

// cpuFlags returns the flags of the first processor in cpuinfo text.
func cpuFlags(cpuinfo string) map[string]bool {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		flags := map[string]bool{}
		for _, f := range strings.Fields(v) {
			flags[f] = true
		}
		return flags
	}
	return nil
}

// decideAccel picks kvm or tcg from the facts, says why, and says whether
// a boot probe must settle it (hardware virtualization is advertised but
// the setup is unusual: PVM loaded, or we are ourselves a guest).
func decideAccel(f hostFacts) (accel, why string, probe bool) {
	if f.KVMErr != nil {
		return "tcg", fmt.Sprintf("/dev/kvm unusable (%v)", f.KVMErr), false
	}
	flags := cpuFlags(f.CPUInfo)
	hw := ""
	switch {
	case flags["vmx"]:
		hw = "vmx"
	case flags["svm"]:
		hw = "svm"
	}
	if hw == "" {
		why := "no vmx/svm flag in /proc/cpuinfo"
		if f.PVM {
			why += "; /dev/kvm is PVM (kvm_pvm), which runs only PVM-enabled guest kernels"
		}
		return "tcg", why, false
	}
	switch {
	case f.PVM:
		return "kvm", hw + " in /proc/cpuinfo but kvm_pvm is loaded", true
	case flags["hypervisor"]:
		return "kvm", hw + " in /proc/cpuinfo of a nested guest", true
	}
	return "kvm", hw + " in /proc/cpuinfo and /dev/kvm opens", false
}

func gatherFacts() hostFacts {
	var f hostFacts
	if k, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err != nil {
		f.KVMErr = err
	} else {
		k.Close()
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		f.CPUInfo = string(b)
	}
	_, err := os.Stat("/sys/module/kvm_pvm")
	f.PVM = err == nil
	return f
}

// DetectAccel says which accelerator guests should get and why: KVM only
// where it really works (/dev/kvm opens and the CPU advertises vmx/svm,
// or, when something is unusual, a short boot probe under KVM passes);
// TCG otherwise. The probe runs only in the unusual case and needs
// qemuBin; it is bounded by ctx and 5 s.
func DetectAccel(ctx context.Context, qemuBin string) (accel, why string) {
	accel, why, probe := decideAccel(gatherFacts())
	if !probe {
		return accel, why
	}
	if qemuBin == "" {
		return "tcg", why + "; no QEMU binary to run a KVM boot probe"
	}
	if err := probeBoot(ctx, qemuBin, "kvm", DefaultCPU("kvm")); err != nil {
		return "tcg", why + "; KVM boot probe failed: " + err.Error()
	}
	return "kvm", why + "; KVM boot probe passed"
}

// probeFirmware is a 64 KiB "BIOS" whose reset vector (the last 16 bytes)
// writes 0x21 to the isa-debug-exit port 0xf4 and halts: QEMU then exits
// with status (0x21<<1)|1 = 67, which proves guest code ran.
func probeFirmware() []byte {
	b := make([]byte, 64<<10)
	copy(b[0xfff0:], []byte{0xb0, 0x21, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd}) // mov al,0x21; out 0xf4,al; hlt; jmp hlt
	return b
}

const probeExit = 67

// probeBoot runs the probe firmware under accel and reports whether the
// vCPU executed it.
func probeBoot(ctx context.Context, qemuBin, accel, cpu string) error {
	dir, err := os.MkdirTemp("", "tashi-accel-probe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fw := filepath.Join(dir, "probe.bin")
	if err := os.WriteFile(fw, probeFirmware(), 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemuBin, "-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "pc", "-accel", accel, "-cpu", cpu, "-m", "16", "-bios", fw,
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("no result within the time limit (%v)", ctx.Err())
	case errors.As(err, &ee) && ee.ExitCode() == probeExit:
		return nil
	case err == nil:
		return errors.New("QEMU exited without running the probe code")
	}
	return fmt.Errorf("%v: %s", err, firstLine(string(out)))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
