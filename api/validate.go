package api

import (
	"regexp"
	"strings"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$`)

// MaxCount is the largest createMany.
const MaxCount = 1000

// ValidName checks an instance, host or user name.
func ValidName(field, name string) error {
	if !nameRE.MatchString(name) {
		return Errorf(CodeInvalid, field,
			"%s %q is not valid; accepted: 1-63 characters of A-Z a-z 0-9 . - starting with a letter or digit", field, name)
	}
	return nil
}

// ValidateSpec checks what can be checked without the record: names,
// sizes against the cluster limits, disks, NICs and hints.
func ValidateSpec(s InstanceSpec, maxCores, maxMemory int) error {
	if err := ValidName("name", s.Name); err != nil {
		return err
	}
	if s.Cores < 1 || s.Cores > maxCores {
		return Errorf(CodeLimitExceeded, "cores", "cores %d is out of range; accepted: 1..%d (maxCores)", s.Cores, maxCores)
	}
	if s.Memory < 1 || s.Memory > maxMemory {
		return Errorf(CodeLimitExceeded, "memory", "memory %d MiB is out of range; accepted: 1..%d (maxMemory)", s.Memory, maxMemory)
	}
	if s.UserID < 0 {
		return Errorf(CodeInvalid, "userId", "userId %d is not valid; accepted: a user id > 0", s.UserID)
	}
	if err := validateDisks(s.Disks); err != nil {
		return err
	}
	if err := validateNICs(s.NICs); err != nil {
		return err
	}
	return validateHints(s.Hints)
}

func validateDisks(ds []Disk) error {
	if len(ds) == 0 {
		return Errorf(CodeInvalid, "disks", "at least one disk is needed; accepted: uri[:persistent],...")
	}
	if len(ds) > 16 {
		return Errorf(CodeInvalid, "disks", "%d disks is too many; accepted: 1..16", len(ds))
	}
	for _, d := range ds {
		if d.URI == "" || strings.Contains(d.URI, "..") || strings.HasPrefix(d.URI, "/") ||
			strings.ContainsAny(d.URI, ",:\x00") {
			return Errorf(CodeInvalid, "disks", "disk %q is not valid; accepted: an image name under the image store, without '..', ',' or ':'", d.URI)
		}
	}
	return nil
}

func validateNICs(ns []NIC) error {
	if len(ns) > 8 {
		return Errorf(CodeInvalid, "nics", "%d NICs is too many; accepted: 0..8", len(ns))
	}
	for i, n := range ns {
		var err error
		if n.IP != "" {
			_, err = ParseIPv4(n.IP)
		}
		if err == nil && n.MAC != "" {
			_, err = ParseMAC(n.MAC)
		}
		if err != nil {
			return Errorf(CodeInvalid, "nics", "NIC %d: %v", i, err)
		}
	}
	return nil
}

var hintKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func validateHints(h map[string]string) error {
	if len(h) > 64 {
		return Errorf(CodeInvalid, "hints", "%d hints is too many; accepted: up to 64", len(h))
	}
	for k, v := range h {
		if !hintKeyRE.MatchString(k) || strings.HasPrefix(k, "__") {
			return Errorf(CodeInvalid, "hints", "hint key %q is not valid; accepted: 1-64 of A-Z a-z 0-9 _ . - not starting with __", k)
		}
		if len(v) > 4096 {
			return Errorf(CodeInvalid, "hints", "hint %q is longer than 4096 bytes", k)
		}
	}
	return nil
}
