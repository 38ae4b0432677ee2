package moosefs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// Options configure a Locator.
type Options struct {
	// Mount is the absolute path where mfsmount mounted the file system.
	Mount string
	// Prefix is the absolute path prefix users name files by: file
	// Prefix+"/x" lives at Mount+"/x". Default "/".
	Prefix string
	// FileInfo is the mfsfileinfo command. Default "mfsfileinfo".
	FileInfo string
}

// Locator finds chunk locations with mfsfileinfo under a mount point.
type Locator struct {
	opts Options
}

var _ datalocation.Locator = (*Locator)(nil)

// New checks the options and fills in defaults. The mount point need not be
// mounted yet.
func New(o Options) (*Locator, error) {
	if o.Prefix == "" {
		o.Prefix = "/"
	}
	if o.FileInfo == "" {
		o.FileInfo = "mfsfileinfo"
	}
	if !filepath.IsAbs(o.Mount) {
		return nil, fmt.Errorf("moosefs: mount %q: must be an absolute path", o.Mount)
	}
	if !path.IsAbs(o.Prefix) {
		return nil, fmt.Errorf("moosefs: prefix %q: must be an absolute path", o.Prefix)
	}
	o.Mount, o.Prefix = filepath.Clean(o.Mount), path.Clean(o.Prefix)
	return &Locator{opts: o}, nil
}

// Config keys accepted by FromConfig.
const (
	KeyMount    = "mount"
	KeyPrefix   = "prefix"
	KeyFileInfo = "mfsfileinfo"
)

// FromConfig builds a Locator from keys "mount" (required), "prefix" and
// "mfsfileinfo". It is the registry factory for "moosefs".
func FromConfig(cfg datalocation.Config) (datalocation.Locator, error) {
	if err := cfg.Check("moosefs", KeyMount, KeyPrefix, KeyFileInfo); err != nil {
		return nil, err
	}
	mount, err := cfg.Required("moosefs", KeyMount)
	if err != nil {
		return nil, err
	}
	return New(Options{Mount: mount, Prefix: cfg.Get(KeyPrefix, "/"), FileInfo: cfg.Get(KeyFileInfo, "")})
}

// LocalPath maps a file name as users give it to its path under the mount
// point. Names outside the prefix are not in this file system: the error
// wraps datalocation.ErrNotFound.
func (l *Locator) LocalPath(file string) (string, error) {
	if !path.IsAbs(file) {
		return "", fmt.Errorf("file %q: must be an absolute path", file)
	}
	clean := path.Clean(file)
	rel, ok := cutPrefix(clean, l.opts.Prefix)
	if !ok {
		return "", fmt.Errorf("file %q: not under prefix %q: %w", file, l.opts.Prefix, datalocation.ErrNotFound)
	}
	return filepath.Join(l.opts.Mount, filepath.FromSlash(rel)), nil
}

// cutPrefix returns clean's path below prefix ("/" for prefix itself).
func cutPrefix(clean, prefix string) (string, bool) {
	switch {
	case prefix == "/":
		return clean, true
	case clean == prefix:
		return "/", true
	case strings.HasPrefix(clean, prefix+"/"):
		return clean[len(prefix):], true
	}
	return "", false
}

// BlockInfoByteRange implements datalocation.Locator.
func (l *Locator) BlockInfoByteRange(ctx context.Context, file string, offset, length int64) ([]datalocation.Block, error) {
	if err := datalocation.CheckRange(offset, length); err != nil {
		return nil, fmt.Errorf("locate blocks of %s: %w", file, err)
	}
	blocks, err := l.fileBlocks(ctx, file)
	if err != nil {
		return nil, fmt.Errorf("locate blocks of %s in moosefs at %s: %w", file, l.opts.Mount, err)
	}
	return datalocation.Select(blocks, offset, length), nil
}

// fileBlocks lists every block of the file.
func (l *Locator) fileBlocks(ctx context.Context, file string) ([]datalocation.Block, error) {
	local, err := l.LocalPath(file)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(local)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stat %s: %w", local, datalocation.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", local, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (mode %s)", local, fi.Mode().Type())
	}
	out, err := l.fileInfo(ctx, local)
	if err != nil {
		return nil, err
	}
	return ParseFileInfo(out, fi.Size())
}

// fileInfo runs mfsfileinfo on one local path and returns its standard output.
func (l *Locator) fileInfo(ctx context.Context, local string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, l.opts.FileInfo, local)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("run %s %s: %w", l.opts.FileInfo, local, ctx.Err())
	}
	// The tool prints its complaint last, on stdout; stderr as a fallback.
	msg := lastLine(string(out))
	if msg == "" {
		msg = lastLine(stderr.String())
	}
	if msg != "" {
		return nil, fmt.Errorf("run %s %s: %w (%v)", l.opts.FileInfo, local, outputError(msg), err)
	}
	return nil, fmt.Errorf("run %s %s: %w", l.opts.FileInfo, local, err)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
