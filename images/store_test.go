package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// needTool skips the test when a tool the store shells out to is missing.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed (Debian: scripts/setup.sh installs it): %v", tool, err)
	}
}

// testStore returns a store in a fresh folder, with its folders made.
func testStore(t *testing.T) Store {
	t.Helper()
	needTool(t, "qemu-img")
	s := Store{Prefix: t.TempDir()}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeImage creates image name in the store (format qcow2 or raw, 16 MiB)
// with a 1 MiB pattern 0x5a at offset 0.
func makeImage(t *testing.T, s Store, name, format string) string {
	t.Helper()
	p := filepath.Join(s.ImagesDir(), name)
	run(t, "qemu-img", "create", "-q", "-f", format, p, "16M")
	qemuIO(t, p, format, "write -P 0x5a 0 1M")
	return p
}

// qemuIO runs one qemu-io command on an image and returns its output.
func qemuIO(t *testing.T, path, format, command string) string {
	t.Helper()
	needTool(t, "qemu-io")
	return run(t, "qemu-io", "-f", format, "-c", command, path)
}

func sha(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"tiny.qcow2", true},
		{"disk-1.raw", true},
		{"a b", true},
		{"", false},
		{"..", false},
		{"a..b", false},
		{"../etc/passwd", false},
		{"sub/img.qcow2", false},
		{"/abs.qcow2", false},
		{".hidden", false},
		{"nul\x00.qcow2", false},
		{"tiny.qcow2.boot.json", false},
	} {
		err := CheckName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadName) {
			t.Errorf("CheckName(%q) = %v, want ErrBadName", tc.name, err)
		}
	}
}

func TestPath(t *testing.T) {
	s := testStore(t)
	want := makeImage(t, s, "base.qcow2", "qcow2")
	got, err := s.Path("base.qcow2")
	if err != nil || got != want {
		t.Fatalf("Path = %q, %v; want %q", got, err, want)
	}
	_, err = s.Path("nope.qcow2")
	if !errors.Is(err, ErrNoImage) || !strings.Contains(err.Error(), "nope.qcow2") ||
		!strings.Contains(err.Error(), s.ImagesDir()) {
		t.Errorf("missing image: %v; want ErrNoImage naming the image and %s", err, s.ImagesDir())
	}
	for _, bad := range []string{"", "..", "../images/base.qcow2", "x/base.qcow2"} {
		if _, err := s.Path(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("Path(%q) = %v, want ErrBadName", bad, err)
		}
	}
	if err := os.Mkdir(filepath.Join(s.ImagesDir(), "dir.qcow2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Path("dir.qcow2"); !errors.Is(err, ErrNoImage) {
		t.Errorf("a folder: %v, want ErrNoImage", err)
	}
}

func TestList(t *testing.T) {
	s := testStore(t)
	if got, err := (Store{Prefix: t.TempDir() + "/none"}).List(); err != nil || len(got) != 0 {
		t.Fatalf("missing store: %v, %v; want empty", got, err)
	}
	dir := s.ImagesDir()
	makeImage(t, s, "b.qcow2", "qcow2")
	makeImage(t, s, "a.raw", "raw")
	writeFile(t, filepath.Join(dir, "vmlinux"), "kernel")
	writeFile(t, filepath.Join(dir, "initrd.gz"), "initrd")
	writeFile(t, filepath.Join(dir, "b.qcow2.boot.json"), `{"kernel":"vmlinux","initrd":"initrd.gz"}`)
	writeFile(t, filepath.Join(dir, "c.img.boot.json"), `not json`)
	writeFile(t, filepath.Join(dir, ".hidden"), "x")
	if err := os.Symlink("a.raw", filepath.Join(dir, "link.raw")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, im := range got {
		names = append(names, im.Name)
		if fi, err := os.Stat(filepath.Join(dir, im.Name)); err != nil || fi.Size() != im.Size {
			t.Errorf("%s: size %d, file %v %v", im.Name, im.Size, fi, err)
		}
	}
	if want := []string{"a.raw", "b.qcow2"}; !slices.Equal(names, want) {
		t.Errorf("List = %v, want %v", names, want)
	}
}

func TestBoot(t *testing.T) {
	s := testStore(t)
	dir := s.ImagesDir()
	makeImage(t, s, "img.qcow2", "qcow2")
	writeFile(t, filepath.Join(dir, "vmlinux"), "kernel")
	writeFile(t, filepath.Join(dir, "initrd.gz"), "initrd")
	outside := filepath.Join(s.Prefix, "outside")
	writeFile(t, outside, "secret")
	if err := os.Symlink(outside, filepath.Join(dir, "sneaky")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, json string
		want       string // "" for success
	}{
		{"relative", `{"kernel":"vmlinux","initrd":"initrd.gz","append":"console=ttyS0"}`, ""},
		{"absolute inside", `{"kernel":"` + dir + `/vmlinux"}`, ""},
		{"dot path inside", `{"kernel":"./x/../vmlinux"}`, ""},
		{"escape", `{"kernel":"../outside"}`, "outside the images folder"},
		{"absolute outside", `{"kernel":"/etc/passwd"}`, "outside the images folder"},
		{"initrd escape", `{"kernel":"vmlinux","initrd":"../../outside"}`, "outside the images folder"},
		{"folder itself", `{"kernel":"."}`, "outside the images folder"},
		{"symlink out", `{"kernel":"sneaky"}`, "links outside"},
		{"missing kernel file", `{"kernel":"nope"}`, "no such file"},
		{"no kernel", `{"initrd":"initrd.gz"}`, `"kernel" is missing`},
		{"unknown field", `{"kernel":"vmlinux","kernal":"x"}`, "unknown field"},
		{"two values", `{"kernel":"vmlinux"}{}`, "more than one"},
		{"multi-line append", `{"kernel":"vmlinux","append":"a\nb"}`, "one line"},
		{"not json", `kernel=vmlinux`, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, filepath.Join(dir, "img.qcow2.boot.json"), tc.json)
			b, err := s.Boot("img.qcow2")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b.Kernel != filepath.Join(dir, "vmlinux") {
					t.Errorf("kernel %q, want %q", b.Kernel, filepath.Join(dir, "vmlinux"))
				}
				return
			}
			if !errors.Is(err, ErrBadBoot) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "img.qcow2") {
				t.Errorf("err = %v, want ErrBadBoot saying %q and naming the image", err, tc.want)
			}
		})
	}
	writeFile(t, filepath.Join(dir, "img.qcow2.boot.json"), `{"kernel":"vmlinux","initrd":"initrd.gz","append":"quiet"}`)
	b, err := s.Boot("img.qcow2")
	if err != nil || b.Initrd != filepath.Join(dir, "initrd.gz") || b.Append != "quiet" {
		t.Errorf("Boot = %+v, %v", b, err)
	}
	makeImage(t, s, "plain.raw", "raw")
	if b, err := s.Boot("plain.raw"); err != nil || b.Kernel != "" || b.Initrd != "" || b.Append != "" {
		t.Errorf("no boot file: %+v, %v; want empty Boot", b, err)
	}
	if _, err := s.Boot("missing.qcow2"); !errors.Is(err, ErrNoImage) {
		t.Errorf("missing image: %v, want ErrNoImage", err)
	}
}

func TestFormat(t *testing.T) {
	s := testStore(t)
	for _, f := range []string{"qcow2", "raw"} {
		p := makeImage(t, s, "img."+f, f)
		if got, err := s.Format(p); err != nil || got != f {
			t.Errorf("Format(%s) = %q, %v", p, got, err)
		}
	}
	vmdk := filepath.Join(s.ImagesDir(), "img.vmdk")
	run(t, "qemu-img", "create", "-q", "-f", "vmdk", vmdk, "1M")
	if _, err := s.Format(vmdk); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("vmdk: %v, want ErrUnsupportedFormat", err)
	}
	if _, err := s.Format(filepath.Join(s.ImagesDir(), "none")); !errors.Is(err, ErrNoImage) {
		t.Errorf("missing file: %v, want ErrNoImage", err)
	}
	junk := filepath.Join(s.ImagesDir(), "junk.qcow2")
	writeFile(t, junk, "QFI\xfb this is not a qcow2 header")
	_, err := s.Format(junk)
	var te *ToolError
	if !errors.As(err, &te) || te.Stderr == "" || !strings.Contains(err.Error(), te.Stderr) {
		t.Errorf("broken qcow2: %v; want a ToolError carrying qemu-img's stderr", err)
	}
}

func TestOverlay(t *testing.T) {
	ctx := context.Background()
	for _, format := range []string{"qcow2", "raw"} {
		t.Run(format, func(t *testing.T) {
			s := testStore(t)
			base := makeImage(t, s, "base."+format, format)
			baseSum := sha(t, base)

			ov, err := s.CreateOverlay(ctx, 42, 0, "base."+format)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(s.OverlaysDir(), "42-0.qcow2"); ov != want {
				t.Errorf("overlay %s, want %s", ov, want)
			}
			ii, err := info(ctx, ov)
			if err != nil {
				t.Fatal(err)
			}
			if ii.Format != "qcow2" || ii.Backing != base || !filepath.IsAbs(ii.Backing) {
				t.Errorf("overlay info %+v, want qcow2 backed by %s", ii, base)
			}
			before, _ := os.Stat(ov)
			again, err := s.CreateOverlay(ctx, 42, 0, "base."+format)
			after, _ := os.Stat(ov)
			if err != nil || again != ov || !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
				t.Errorf("second CreateOverlay = %q, %v; want the same file untouched", again, err)
			}

			qemuIO(t, ov, "qcow2", "write -P 0xa7 0 64k")
			if got := qemuIO(t, ov, "qcow2", "read -P 0xa7 0 64k"); strings.Contains(got, "Pattern verification failed") {
				t.Errorf("overlay does not read back its write: %s", got)
			}
			if got := qemuIO(t, ov, "qcow2", "read -P 0x5a 960k 64k"); strings.Contains(got, "Pattern verification failed") {
				t.Errorf("overlay does not show the base's data: %s", got)
			}
			if got := sha(t, base); got != baseSum {
				t.Errorf("base changed after writing to the overlay: %s -> %s", baseSum, got)
			}

			ov1, err := s.CreateOverlay(ctx, 42, 1, "base."+format)
			if err != nil || ov1 == ov {
				t.Fatalf("disk 1: %q, %v", ov1, err)
			}
			makeImage(t, s, "other.qcow2", "qcow2")
			if _, err := s.CreateOverlay(ctx, 42, 1, "other.qcow2"); !errors.Is(err, ErrOverlayMismatch) {
				t.Errorf("overlay over another base: %v, want ErrOverlayMismatch", err)
			}
			other, err := s.CreateOverlay(ctx, 420, 0, "base."+format)
			if err != nil {
				t.Fatal(err)
			}

			for i := 0; i < 2; i++ { // idempotent
				if err := s.RemoveOverlays(42); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []string{ov, ov1} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s still there after RemoveOverlays: %v", p, err)
				}
			}
			if _, err := os.Stat(other); err != nil {
				t.Errorf("RemoveOverlays(42) removed instance 420's overlay: %v", err)
			}
		})
	}
}

func TestOverlayErrors(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	_, err := s.CreateOverlay(ctx, 1, 0, "missing.qcow2")
	if !errors.Is(err, ErrNoImage) || !strings.Contains(err.Error(), "instance 1") {
		t.Errorf("missing base: %v, want ErrNoImage naming the instance", err)
	}
	if _, err := s.CreateOverlay(ctx, 1, 0, "../x"); !errors.Is(err, ErrBadName) {
		t.Errorf("bad base name: %v, want ErrBadName", err)
	}
	if err := (Store{Prefix: t.TempDir()}).RemoveOverlays(1); err != nil {
		t.Errorf("RemoveOverlays without a folder: %v", err)
	}
}

func TestIsOverlayOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"7-0.qcow2", true},
		{"7-12.qcow2", true},
		{".7-0.qcow2.tmp-1234", true},
		{"70-0.qcow2", false},
		{"7-.qcow2", false},
		{"7-x.qcow2", false},
		{"7-0.qcow2.bak", false},
		{"17-0.qcow2", false},
	} {
		if got := isOverlayOf(tc.name, 7); got != tc.want {
			t.Errorf("isOverlayOf(%q, 7) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCopyCloneRebase(t *testing.T) {
	ctx := context.Background()
	s := testStore(t)
	dir := s.ImagesDir()
	src := makeImage(t, s, "src.qcow2", "qcow2")
	writeFile(t, filepath.Join(dir, "vmlinux"), "kernel")
	writeFile(t, filepath.Join(dir, "src.qcow2.boot.json"), `{"kernel":"vmlinux"}`)
	srcSum := sha(t, src)

	if err := s.Copy(ctx, "src.qcow2", "copy.qcow2"); err != nil {
		t.Fatal(err)
	}
	if got := sha(t, filepath.Join(dir, "copy.qcow2")); got != srcSum {
		t.Errorf("copy differs from its source")
	}
	if b, err := s.Boot("copy.qcow2"); err != nil || b.Kernel != filepath.Join(dir, "vmlinux") {
		t.Errorf("copy's boot: %+v, %v; want the source's boot file", b, err)
	}

	if err := s.Clone(ctx, "src.qcow2", "clone.qcow2"); err != nil {
		t.Fatal(err)
	}
	clone := filepath.Join(dir, "clone.qcow2")
	if b, err := backingOf(ctx, clone); err != nil || b != src {
		t.Errorf("clone's backing file %q, %v; want %s", b, err, src)
	}
	qemuIO(t, clone, "qcow2", "write -P 0x33 2M 64k")
	if sha(t, src) != srcSum {
		t.Errorf("writing to the clone changed the source")
	}

	if err := s.Rebase(ctx, "clone.qcow2", "flat.qcow2"); err != nil {
		t.Fatal(err)
	}
	flat := filepath.Join(dir, "flat.qcow2")
	if b, err := backingOf(ctx, flat); err != nil || b != "" {
		t.Errorf("rebased image has backing file %q, %v; want none", b, err)
	}
	run(t, "qemu-img", "compare", "-q", clone, flat)

	raw := makeImage(t, s, "sparse.raw", "raw")
	if err := s.Copy(ctx, "sparse.raw", "sparse2.raw"); err != nil {
		t.Fatal(err)
	}
	if sha(t, raw) != sha(t, filepath.Join(dir, "sparse2.raw")) {
		t.Errorf("raw copy differs")
	}

	for _, tc := range []struct {
		op       string
		src, dst string
		want     error
	}{
		{"copy", "src.qcow2", "copy.qcow2", ErrExists},
		{"clone", "src.qcow2", "flat.qcow2", ErrExists},
		{"rebase", "src.qcow2", "copy.qcow2", ErrExists},
		{"copy", "missing.qcow2", "new.qcow2", ErrNoImage},
		{"copy", "../images/src.qcow2", "new.qcow2", ErrBadName},
		{"clone", "src.qcow2", "../new.qcow2", ErrBadName},
		{"rebase", "src.qcow2", "..", ErrBadName},
		{"copy", "src.qcow2", "", ErrBadName},
	} {
		op := map[string]func(context.Context, string, string) error{"copy": s.Copy, "clone": s.Clone, "rebase": s.Rebase}[tc.op]
		err := op(ctx, tc.src, tc.dst)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.op) {
			t.Errorf("%s %q -> %q: %v, want %v", tc.op, tc.src, tc.dst, err, tc.want)
		}
	}
	if sha(t, filepath.Join(dir, "copy.qcow2")) != srcSum {
		t.Errorf("a refused operation changed an existing image")
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, tmpDir)); len(tmp) != 0 {
		t.Errorf("temp files left behind: %v", tmp)
	}
}

func TestCopyCancelled(t *testing.T) {
	s := testStore(t)
	makeImage(t, s, "src.raw", "raw")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Copy(ctx, "src.raw", "dst.raw"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled copy: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(s.ImagesDir(), "dst.raw")); !os.IsNotExist(err) {
		t.Errorf("cancelled copy left dst.raw: %v", err)
	}
}

func TestSuspendFile(t *testing.T) {
	s := Store{Prefix: "/var/tmp/tashi"}
	for _, tc := range []struct {
		name, want string
	}{
		{"web", "/var/tmp/tashi/suspend/7_web.gz"},
		{"a/b", "/var/tmp/tashi/suspend/7_a_b.gz"},
		{"..", "/var/tmp/tashi/suspend/7_...gz"},
	} {
		if got := s.SuspendFile(7, tc.name); got != tc.want {
			t.Errorf("SuspendFile(7, %q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzParseBoot(f *testing.F) {
	f.Add([]byte(`{"kernel":"vmlinux","initrd":"initrd.gz","append":"console=ttyS0"}`))
	f.Add([]byte(`{"kernel":"../x"}`))
	f.Add([]byte(`{"kernel":"/srv/images/a/../../b"}`))
	const dir = "/srv/images"
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := parseBoot(data, dir)
		if err != nil {
			if !errors.Is(err, ErrBadBoot) {
				t.Fatalf("error %v does not wrap ErrBadBoot", err)
			}
			return
		}
		for _, p := range []string{b.Kernel, b.Initrd} {
			if p != "" && !strings.HasPrefix(p, dir+"/") {
				t.Fatalf("resolved path %q outside %s", p, dir)
			}
		}
		if b.Kernel == "" {
			t.Fatal("accepted a boot file without a kernel")
		}
	})
}

func TestCreateOverlayConcurrent(t *testing.T) {
	s := testStore(t)
	makeImage(t, s, "base.qcow2", "qcow2")
	const n = 6
	paths := make([]string, n)
	errs := make([]error, n)
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			paths[i], errs[i] = s.CreateOverlay(context.Background(), 9, 0, "base.qcow2")
		}()
	}
	for range n {
		<-done
	}
	for i := range n {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("caller %d: %q, %v; want %q", i, paths[i], errs[i], paths[0])
		}
	}
	entries, _ := os.ReadDir(s.OverlaysDir())
	if len(entries) != 1 {
		t.Errorf("overlays folder holds %d files, want 1", len(entries))
	}
}
