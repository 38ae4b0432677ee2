package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// maxAppend is the x86 kernel's command line limit (COMMAND_LINE_SIZE).
const maxAppend = 2048

// maxBootFile bounds how much of a boot file is read.
const maxBootFile = 64 << 10

// bootFile is the content of <image>.boot.json. Paths are relative to the
// images folder (or absolute inside it).
type bootFile struct {
	Kernel string `json:"kernel"`
	Initrd string `json:"initrd,omitempty"`
	Append string `json:"append,omitempty"`
}

// Boot says how to start a guest from image name: from the kernel, initrd
// and command line of <name>.boot.json, with absolute paths, or the empty
// Boot (firmware boot from the disk) when the image has no boot file.
// The kernel and initrd must be files inside ImagesDir, symlinks included.
func (s Store) Boot(name string) (vmm.Boot, error) {
	if _, err := s.Path(name); err != nil {
		return vmm.Boot{}, fmt.Errorf("read boot settings of image %q: %w", name, err)
	}
	dir := s.ImagesDir()
	file := filepath.Join(dir, name+bootSuffix)
	data, err := readBounded(file)
	if errors.Is(err, fs.ErrNotExist) {
		return vmm.Boot{}, nil
	}
	if err != nil {
		return vmm.Boot{}, fmt.Errorf("read boot file of image %q: %w", name, err)
	}
	b, err := parseBoot(data, dir)
	if err == nil {
		err = checkBootFiles(b, dir)
	}
	if err != nil {
		return vmm.Boot{}, fmt.Errorf("boot file %s of image %q: %w", file, name, err)
	}
	return b, nil
}

func readBounded(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxBootFile+1))
	if err == nil && len(data) > maxBootFile {
		err = fmt.Errorf("larger than %d bytes: %w", maxBootFile, ErrBadBoot)
	}
	return data, err
}

// parseBoot decodes a boot file and resolves its paths against dir (an
// absolute, clean folder). It only looks at the text: the files may not
// exist. Errors wrap ErrBadBoot.
func parseBoot(data []byte, dir string) (vmm.Boot, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var bf bootFile
	if err := dec.Decode(&bf); err != nil {
		return vmm.Boot{}, fmt.Errorf("%w: %v", ErrBadBoot, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return vmm.Boot{}, fmt.Errorf("%w: more than one JSON value", ErrBadBoot)
	}
	if bf.Kernel == "" {
		return vmm.Boot{}, fmt.Errorf(`%w: "kernel" is missing; want {"kernel":"vmlinux","initrd":"initrd.gz","append":"..."}`, ErrBadBoot)
	}
	if len(bf.Append) > maxAppend || strings.ContainsAny(bf.Append, "\x00\n\r") {
		return vmm.Boot{}, fmt.Errorf(`%w: "append" must be one line of at most %d bytes`, ErrBadBoot, maxAppend)
	}
	kernel, err := inside(dir, "kernel", bf.Kernel)
	if err != nil {
		return vmm.Boot{}, err
	}
	initrd, err := inside(dir, "initrd", bf.Initrd)
	if err != nil {
		return vmm.Boot{}, err
	}
	return vmm.Boot{Kernel: kernel, Initrd: initrd, Append: bf.Append}, nil
}

// inside resolves p against dir and refuses results outside dir.
func inside(dir, field, p string) (string, error) {
	if p == "" {
		return "", nil
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: %q contains NUL", ErrBadBoot, field)
	}
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(dir, full)
	}
	full = filepath.Clean(full)
	rel, err := filepath.Rel(dir, full)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s %q is outside the images folder %s", ErrBadBoot, field, p, dir)
	}
	return full, nil
}

// checkBootFiles makes sure kernel and initrd are regular files whose real
// location (after symlinks) is inside dir as well.
func checkBootFiles(b vmm.Boot, dir string) error {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for _, f := range []struct{ field, path string }{{"kernel", b.Kernel}, {"initrd", b.Initrd}} {
		if f.path == "" {
			continue
		}
		resolved, err := filepath.EvalSymlinks(f.path)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrBadBoot, f.field, f.path, err)
		}
		if _, err := inside(realDir, f.field, resolved); err != nil {
			return fmt.Errorf("%w: %s %s links outside the images folder", ErrBadBoot, f.field, f.path)
		}
		if fi, err := os.Stat(resolved); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %s %s is not a regular file", ErrBadBoot, f.field, f.path)
		}
	}
	return nil
}

// bootFiles returns the names of the files in ImagesDir that the boot
// files among entries name (kernels and initrds, which are no images).
// Unreadable boot files name nothing.
func (s Store) bootFiles(entries []fs.DirEntry) map[string]bool {
	dir := s.ImagesDir()
	named := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), bootSuffix) {
			continue
		}
		data, err := readBounded(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		b, err := parseBoot(data, dir)
		if err != nil {
			continue
		}
		for _, p := range []string{b.Kernel, b.Initrd} {
			if p != "" && filepath.Dir(p) == dir {
				named[filepath.Base(p)] = true
			}
		}
	}
	return named
}
