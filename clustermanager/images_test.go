package clustermanager_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
	"github.com/tashi-go/tashi/images"
)

// Tashi's copyImage, cloneImage and rebaseImage on the shared image store;
// the new images are recorded and listed, bad requests change nothing.
func TestImageOperations(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img is not installed; run scripts/setup.sh")
	}
	prefix := t.TempDir()
	st := images.Store{Prefix: prefix}
	if err := st.Init(); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(st.ImagesDir(), "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-f", "qcow2", base, "8M").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := cmtest.NewWithImages(t, st)
	for _, op := range []string{"copy", "clone", "rebase"} {
		img, err := c.Admin.ImageOp(ctx, op, "base.qcow2", op+".qcow2")
		if err != nil || img.Name != op+".qcow2" {
			t.Fatalf("%sImage: %+v %v", op, img, err)
		}
		if _, err := os.Stat(filepath.Join(st.ImagesDir(), op+".qcow2")); err != nil {
			t.Fatalf("%sImage made no file: %v", op, err)
		}
	}
	all, _ := c.Admin.Images(ctx)
	if len(all) != 4 {
		t.Fatalf("getImages lists %d images, want 4: %+v", len(all), all)
	}
	bad := []struct {
		op, src, dst string
		code         api.Code
	}{
		{"copy", "nope.qcow2", "x.qcow2", api.CodeNotFound},
		{"copy", "base.qcow2", "copy.qcow2", api.CodeDuplicate},
		{"copy", "base.qcow2", "../escape.qcow2", api.CodeInvalid},
		{"melt", "base.qcow2", "y.qcow2", api.CodeInvalid},
	}
	for _, b := range bad {
		if _, err := c.Admin.ImageOp(ctx, b.op, b.src, b.dst); !api.IsCode(err, b.code) {
			t.Errorf("%s %s -> %s: %v, want %s", b.op, b.src, b.dst, err, b.code)
		}
	}
	if all, _ := c.Admin.Images(ctx); len(all) != 4 {
		t.Errorf("refused operations changed the images: %d", len(all))
	}
}
