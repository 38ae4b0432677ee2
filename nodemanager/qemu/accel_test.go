package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const (
	cpuinfoPVM = `processor	: 0
vendor_id	: AuthenticAMD
model name	: AMD EPYC 7B13
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext
bugs		: sysret_ss_attrs null_seg spectre_v1

processor	: 1
flags		: fpu vme svm
`
	cpuinfoVMX    = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr vmx ept\n"
	cpuinfoSVM    = "processor\t: 0\nflags\t\t: fpu svm npt\n"
	cpuinfoNested = "processor\t: 0\nflags\t\t: fpu vmx hypervisor\n"
)

func TestCPUFlags(t *testing.T) {
	f := cpuFlags(cpuinfoPVM)
	if !f["hypervisor"] || !f["sse4_2"] || f["svm"] {
		t.Fatalf("first processor's flags wrong: svm=%v hypervisor=%v", f["svm"], f["hypervisor"])
	}
	if cpuFlags("no flags here\n") != nil {
		t.Fatal("flags from nothing")
	}
}

func TestDecideAccel(t *testing.T) {
	cases := []struct {
		name   string
		facts  hostFacts
		accel  string
		probe  bool
		reason string
	}{
		{"no /dev/kvm", hostFacts{KVMErr: os.ErrNotExist, CPUInfo: cpuinfoVMX}, "tcg", false, "/dev/kvm unusable"},
		{"this machine: PVM, no vmx/svm", hostFacts{CPUInfo: cpuinfoPVM, PVM: true}, "tcg", false, "PVM"},
		{"no flags at all", hostFacts{}, "tcg", false, "no vmx/svm"},
		{"bare metal vmx", hostFacts{CPUInfo: cpuinfoVMX}, "kvm", false, "vmx"},
		{"bare metal svm", hostFacts{CPUInfo: cpuinfoSVM}, "kvm", false, "svm"},
		{"nested guest with vmx", hostFacts{CPUInfo: cpuinfoNested}, "kvm", true, "nested"},
		{"vmx but PVM loaded", hostFacts{CPUInfo: cpuinfoVMX, PVM: true}, "kvm", true, "kvm_pvm"},
	}
	for _, c := range cases {
		accel, why, probe := decideAccel(c.facts)
		if accel != c.accel || probe != c.probe || !strings.Contains(why, c.reason) {
			t.Errorf("%s: got %s %q probe=%v", c.name, accel, why, probe)
		}
	}
}

// DetectAccel must not pick KVM from /dev/kvm alone.
func TestDetectAccelHere(t *testing.T) {
	accel, why := DetectAccel(context.Background(), "qemu-system-x86_64")
	t.Logf("accel %s: %s", accel, why)
	flags := cpuFlags(gatherFacts().CPUInfo)
	if accel == "kvm" && !flags["vmx"] && !flags["svm"] {
		t.Fatal("kvm chosen without vmx/svm")
	}
}

// The probe firmware really runs: under TCG it must exit with 67. Under
// KVM it passes only where KVM works (it fails or times out on PVM).
func TestProbeBoot(t *testing.T) {
	bin, err := exec.LookPath(DefaultBinary)
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	if err := probeBoot(context.Background(), bin, "tcg", "max"); err != nil {
		t.Fatalf("tcg probe: %v", err)
	}
	// Here (PVM) this fails; on a host with working KVM it passes.
	t.Logf("kvm probe: %v", probeBoot(context.Background(), bin, "kvm", "host"))
	if err := probeBoot(context.Background(), "/nonexistent/qemu", "tcg", "max"); err == nil ||
		errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("missing binary: %v", err)
	}
}
