package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Store is the image store under Tashi's [Vfs] prefix:
//
//	<Prefix>/images     base images, each with an optional <name>.boot.json
//	<Prefix>/overlays   per-instance qcow2 overlays, <instance>-<disk>.qcow2
//	<Prefix>/suspend    suspend files, <instance>_<name>.gz
//
// A relative Prefix is taken relative to the working directory at each call;
// every path the store hands out is absolute.
type Store struct{ Prefix string }

// Image is one base image in the store.
type Image struct {
	Name string
	Size int64 // bytes on disk (the file's size, not the virtual size)
}

// tmpDir holds files being written in ImagesDir until they are published
// under their name; being a directory, neither List nor the cluster
// manager's image sync takes it for an image.
const tmpDir = ".tmp"

// bootSuffix names an image's boot file: <image>.boot.json.
const bootSuffix = ".boot.json"

// ImagesDir is the folder of base images.
func (s Store) ImagesDir() string { return abs(filepath.Join(s.Prefix, "images")) }

// OverlaysDir is the folder of per-instance overlays.
func (s Store) OverlaysDir() string { return abs(filepath.Join(s.Prefix, "overlays")) }

// SuspendDir is the folder of suspend files.
func (s Store) SuspendDir() string { return abs(filepath.Join(s.Prefix, "suspend")) }

// Init creates the store's folders if they are missing.
func (s Store) Init() error {
	for _, d := range []string{s.ImagesDir(), s.OverlaysDir(), s.SuspendDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create image store folder: %w", err)
		}
	}
	return nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// CheckName accepts a plain file name: not empty, not hidden, without "/",
// "..", or NUL, and not a boot file.
func CheckName(name string) error {
	why := ""
	switch {
	case name == "":
		why = "empty"
	case strings.Contains(name, "/"):
		why = `contains "/"`
	case strings.Contains(name, ".."):
		why = `contains ".."`
	case strings.HasPrefix(name, "."):
		why = `starts with "."`
	case strings.ContainsRune(name, 0):
		why = "contains NUL"
	case strings.HasSuffix(name, bootSuffix):
		why = "is a boot file, not an image"
	default:
		return nil
	}
	return fmt.Errorf("image name %q %s; want a file name in the image store: %w", name, why, ErrBadName)
}

// List returns the base images, sorted by name: the regular files of
// ImagesDir except boot files, the kernels and initrds boot files name,
// and hidden or invalid names. A missing folder is an empty store.
func (s Store) List() ([]Image, error) {
	dir := s.ImagesDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list images in %s: %w", dir, err)
	}
	aux := s.bootFiles(entries)
	var out []Image
	for _, e := range entries {
		if !e.Type().IsRegular() || aux[e.Name()] || CheckName(e.Name()) != nil {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		out = append(out, Image{Name: e.Name(), Size: fi.Size()})
	}
	slices.SortFunc(out, func(a, b Image) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Path returns the absolute path of an existing image (a regular file, or
// a symlink to one).
func (s Store) Path(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	dir := s.ImagesDir()
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("image %q not in %s: %w", name, dir, ErrNoImage)
	case err != nil:
		return "", fmt.Errorf("look up image %q: %w", name, err)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("image %q in %s is not a regular file: %w", name, dir, ErrNoImage)
	}
	return p, nil
}

// overlayName is <instance>-<disk>.qcow2.
func overlayName(instanceID int64, disk int) string {
	return fmt.Sprintf("%d-%d.qcow2", instanceID, disk)
}

// CreateOverlay returns the qcow2 overlay of disk number disk of an
// instance, creating it over the base image if needed: its backing file is
// the base's absolute path. It is idempotent per (instance, disk): an
// existing overlay over the same base is returned as is, one over another
// base is an ErrOverlayMismatch.
func (s Store) CreateOverlay(ctx context.Context, instanceID int64, disk int, base string) (string, error) {
	what := fmt.Sprintf("create overlay of disk %d of instance %d on image %q", disk, instanceID, base)
	if instanceID < 0 || disk < 0 {
		return "", fmt.Errorf("%s: instance and disk must be >= 0", what)
	}
	basePath, err := s.Path(base)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	dst := filepath.Join(s.OverlaysDir(), overlayName(instanceID, disk))
	if _, err := os.Lstat(dst); err == nil {
		return dst, s.checkOverlay(ctx, what, dst, basePath)
	}
	format, err := s.Format(basePath)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := os.MkdirAll(s.OverlaysDir(), 0o755); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	f, err := os.CreateTemp(s.OverlaysDir(), "."+overlayName(instanceID, disk)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	if err := createOverlay(ctx, tmp, basePath, format); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) { // made at the same time by another caller
			return dst, s.checkOverlay(ctx, what, dst, basePath)
		}
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return dst, nil
}

// checkOverlay accepts an existing overlay only if it sits on basePath.
func (s Store) checkOverlay(ctx context.Context, what, overlay, basePath string) error {
	backing, err := backingOf(ctx, overlay)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if backing != basePath {
		return fmt.Errorf("%s: %s is backed by %q: %w", what, overlay, backing, ErrOverlayMismatch)
	}
	return nil
}

// RemoveOverlays deletes every overlay of an instance (and leftovers of
// interrupted creations). Missing overlays are not an error.
func (s Store) RemoveOverlays(instanceID int64) error {
	dir := s.OverlaysDir()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove overlays of instance %d: %w", instanceID, err)
	}
	var errs []error
	for _, e := range entries {
		if !isOverlayOf(e.Name(), instanceID) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove overlays of instance %d: %w", instanceID, err)
	}
	return nil
}

// isOverlayOf matches <id>-<disk>.qcow2 and .<id>-<disk>.qcow2.tmp-<random>.
func isOverlayOf(name string, instanceID int64) bool {
	name = strings.TrimPrefix(name, ".")
	if i := strings.Index(name, ".qcow2.tmp-"); i >= 0 {
		name = name[:i+len(".qcow2")]
	}
	rest, ok := strings.CutPrefix(name, strconv.FormatInt(instanceID, 10)+"-")
	if !ok {
		return false
	}
	disk, ok := strings.CutSuffix(rest, ".qcow2")
	if !ok || disk == "" {
		return false
	}
	_, err := strconv.ParseUint(disk, 10, 31)
	return err == nil
}

// SuspendFile is where an instance's suspended state goes, gzip-compressed
// as Tashi's default: <SuspendDir>/<instance>_<name>.gz. A "/" or NUL in
// name becomes "_". The folder is made by Init, not here.
func (s Store) SuspendFile(instanceID int64, name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, name)
	return filepath.Join(s.SuspendDir(), fmt.Sprintf("%d_%s.gz", instanceID, name))
}
