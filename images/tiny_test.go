package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// bootTimeout bounds one boot of the tiny guest under TCG (about 2 s on an
// idle 2-core machine; much more when the machine is busy).
const bootTimeout = 90 * time.Second

var readyLine = regexp.MustCompile(`GUEST-READY (\S+)`)

// TestTinyGuest builds the tiny guest with EnsureTiny and boots it for
// real under TCG from an overlay of tiny.qcow2: once with its disk only
// (powering off when ready), once with user-mode networking, serving the
// kv CGI over HTTP.
func TestTinyGuest(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skipf("qemu-system-x86_64 is not installed (Debian qemu-system-x86; scripts/setup.sh installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := Store{Prefix: t.TempDir()}
	start := time.Now()
	name, err := EnsureTiny(ctx, s.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("EnsureTiny: %v", time.Since(start))
	checkRebuildIsNoop(t, ctx, s)

	boot, err := s.Boot(name)
	if err != nil {
		t.Fatal(err)
	}
	if boot.Kernel != filepath.Join(s.ImagesDir(), "vmlinux") || boot.Initrd == "" ||
		!strings.Contains(boot.Append, "root=/dev/vda") {
		t.Fatalf("tiny guest boot settings %+v", boot)
	}
	if imgs, err := s.List(); err != nil || len(imgs) != 1 || imgs[0].Name != name {
		t.Errorf("List = %v, %v; want only %s", imgs, err, name)
	}
	base, err := s.Path(name)
	if err != nil {
		t.Fatal(err)
	}
	baseSum := sha(t, base)

	t.Run("disk", func(t *testing.T) { bootFromDisk(t, ctx, s, qemu, name, boot) })
	t.Run("network", func(t *testing.T) { serveKV(t, ctx, s, qemu, name, boot) })

	if got := sha(t, base); got != baseSum {
		t.Errorf("booting from overlays changed the base image")
	}
}

// checkRebuildIsNoop runs EnsureTiny again, twice at once (once into
// another store), and checks that the first store's files are untouched.
func checkRebuildIsNoop(t *testing.T, ctx context.Context, s Store) {
	files := []string{"vmlinux", "initrd.gz", TinyImage, TinyImage + bootSuffix}
	stat := func() []os.FileInfo {
		var out []os.FileInfo
		for _, f := range files {
			fi, err := os.Stat(filepath.Join(s.ImagesDir(), f))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fi)
		}
		return out
	}
	before := stat()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, prefix := range []string{s.Prefix, t.TempDir()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, errs[i] = EnsureTiny(ctx, prefix)
			t.Logf("EnsureTiny again (%s): %v", prefix, time.Since(start))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, fi := range stat() {
		if !os.SameFile(before[i], fi) || !before[i].ModTime().Equal(fi.ModTime()) {
			t.Errorf("%s was rewritten by a rebuild with nothing changed", files[i])
		}
	}
}

// qemuArgs is the command line of one tiny guest: q35, TCG, 128 MiB, the
// boot file's kernel, serial console to log, overlay as virtio disk.
func qemuArgs(b vmm.Boot, log, overlay, extraAppend string) []string {
	return []string{"-accel", "tcg", "-machine", "q35", "-m", "128",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-serial", "file:" + log, "-no-reboot",
		"-kernel", b.Kernel, "-initrd", b.Initrd, "-append", b.Append + " " + extraAppend,
		"-drive", "file=" + overlay + ",format=qcow2,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0"}
}

func bootFromDisk(t *testing.T, ctx context.Context, s Store, qemu, name string, b vmm.Boot) {
	overlay, err := s.CreateOverlay(ctx, 1, 0, name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.RemoveOverlays(1)
	log := filepath.Join(t.TempDir(), "serial.log")
	bctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(bctx, qemu, qemuArgs(b, log, overlay, "guest.nonet=1 guest.poweroff=1")...)
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	serial, _ := os.ReadFile(log)
	if err != nil {
		t.Fatalf("qemu: %v (within %v)\nstderr: %s\nserial:\n%s", err, bootTimeout, stderr.Bytes(), serial)
	}
	if !bytes.Contains(serial, []byte("GUEST-READY none")) || !bytes.Contains(serial, []byte("bootcount=1")) {
		t.Fatalf("serial log lacks GUEST-READY none or bootcount=1:\n%s", serial)
	}
	t.Logf("booted from the overlay, ready and powered off in %v", elapsed)
	if ii, err := info(ctx, overlay); err != nil || ii.Backing == "" {
		t.Errorf("overlay info %+v, %v", ii, err)
	}
}

func serveKV(t *testing.T, ctx context.Context, s Store, qemu, name string, b vmm.Boot) {
	overlay, err := s.CreateOverlay(ctx, 2, 0, name)
	if err != nil {
		t.Fatal(err)
	}
	defer s.RemoveOverlays(2)
	port := freePort(t)
	log := filepath.Join(t.TempDir(), "serial.log")
	args := append(qemuArgs(b, log, overlay, ""),
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80", port),
		"-device", "virtio-net-pci,netdev=n0")
	var stderr bytes.Buffer
	cmd := exec.Command(qemu, args...)
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { // kill this QEMU by its PID
		if err := syscall.Kill(cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("kill qemu %d: %v", cmd.Process.Pid, err)
		}
		<-exited
	}()

	ip := waitReady(t, log, exited, &stderr)
	t.Logf("guest ready at %s (user-mode net) after %v", ip, time.Since(start))
	if ip == "none" {
		t.Fatalf("guest got no DHCP address")
	}
	base := fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/kv", port)
	if got := httpGet(t, ctx, base+"?set=hello"); got != "hello" {
		t.Errorf("set: %q, want hello", got)
	}
	if got := httpGet(t, ctx, base); got != "hello" {
		t.Errorf("get: %q, want hello", got)
	}
}

// waitReady polls the serial log for the readiness line and returns the
// guest's address; it fails if QEMU exits first or bootTimeout passes.
func waitReady(t *testing.T, log string, exited <-chan error, stderr *bytes.Buffer) string {
	t.Helper()
	deadline := time.After(bootTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		serial, _ := os.ReadFile(log)
		if m := readyLine.FindSubmatch(serial); m != nil {
			return string(m[1])
		}
		select {
		case err := <-exited:
			t.Fatalf("qemu exited before GUEST-READY: %v\nstderr: %s\nserial:\n%s", err, stderr, serial)
		case <-deadline:
			t.Fatalf("no GUEST-READY within %v; serial:\n%s", bootTimeout, serial)
		case <-tick.C:
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// httpGet fetches url, retrying for a few seconds while the guest's
// httpd is not answering yet, and returns the trimmed body of a 200.
func httpGet(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for i := 0; i < 20; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return strings.TrimSpace(string(body))
			}
			err = fmt.Errorf("status %s, body %q, read error %v", resp.Status, body, rerr)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}
