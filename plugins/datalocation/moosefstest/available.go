package moosefstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// binaries are the programs the cluster needs, from Debian's moosefs-master,
// moosefs-chunkserver, moosefs-client, moosefs-cli and iproute2.
var binaries = []string{"mfsmaster", "mfschunkserver", "mfsmount", "mfsfileinfo",
	"mfsscadmin", "mfssetsclass", "mfscli", "ip"}

// Available reports why the cluster cannot start here, wrapping
// ErrUnavailable, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (network namespaces, FUSE mount)", ErrUnavailable)
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("%w: no /dev/fuse: %v", ErrUnavailable, err)
	}
	if _, err := os.Stat(emptyMetadata); err != nil {
		return fmt.Errorf("%w: no empty metadata file (moosefs-master): %v", ErrUnavailable, err)
	}
	for _, b := range binaries {
		if _, err := lookPath(b); err != nil {
			return fmt.Errorf("%w: %s not found (install moosefs-master, moosefs-chunkserver, "+
				"moosefs-client, moosefs-cli, iproute2)", ErrUnavailable, b)
		}
	}
	return nil
}

// lookPath finds a program in PATH or in the sbin directories PATH may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not in PATH, /usr/sbin or /sbin", name)
}

// run runs a short command; its combined output is returned and, on failure,
// quoted in the error.
func run(ctx context.Context, name string, args ...string) (string, error) {
	p, err := lookPath(name)
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, p, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("run %s %v: %w: %s", name, args, err, out)
	}
	return string(out), nil
}
