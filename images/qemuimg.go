package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sync"
	"time"
)

// formatTimeout bounds Format, which has no context of its own.
const formatTimeout = 30 * time.Second

// qemuImg runs qemu-img (no shell) and returns its stdout; a failure is a
// *ToolError that carries qemu-img's stderr.
func qemuImg(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "qemu-img", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return nil, &ToolError{Tool: "qemu-img", Args: args, Stderr: tail(stderr.Bytes()), Err: err}
	}
	return stdout.Bytes(), nil
}

// imageInfo is the part of `qemu-img info --output=json` we read.
type imageInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	Backing     string `json:"backing-filename"`
	FullBacking string `json:"full-backing-filename"`
}

// info reads an image's header. -U (force-share) lets it read images that
// a running QEMU holds locked; it only reads.
func info(ctx context.Context, path string) (imageInfo, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return imageInfo{}, fmt.Errorf("inspect image %s: %w", path, ErrNoImage)
		}
		return imageInfo{}, fmt.Errorf("inspect image %s: %w", path, err)
	}
	out, err := qemuImg(ctx, "info", "-U", "--output=json", path)
	if err != nil {
		return imageInfo{}, fmt.Errorf("inspect image %s: %w", path, err)
	}
	var ii imageInfo
	if err := json.Unmarshal(out, &ii); err != nil {
		return imageInfo{}, fmt.Errorf("inspect image %s: parse qemu-img info: %w", path, err)
	}
	return ii, nil
}

// Format returns "qcow2" or "raw" for the image file at path, as qemu-img
// info reports it. Anything else is ErrUnsupportedFormat.
//
// qemu-img probes the format from the file's content. That is right for
// base images an administrator put in the store; a raw image that guests
// write to could be made to look like qcow2, so for persistent disks keep
// the format recorded when the image was added rather than probing again.
func (s Store) Format(path string) (string, error) {
	fi, statErr := os.Stat(path)
	key := formatKey{path: path}
	if statErr == nil {
		key.size, key.mtime = fi.Size(), fi.ModTime().UnixNano()
		if f, ok := formats.Load(key); ok {
			return f.(string), nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), formatTimeout)
	defer cancel()
	ii, err := info(ctx, path)
	if err != nil {
		return "", err
	}
	switch ii.Format {
	case "qcow2", "raw":
		if statErr == nil {
			formats.Store(key, ii.Format)
		}
		return ii.Format, nil
	}
	return "", fmt.Errorf("image %s is %q, want qcow2 or raw: %w", path, ii.Format, ErrUnsupportedFormat)
}

// formats caches Format's answers by path, size and modification time:
// each probe is a qemu-img process (~8 ms), paid on every activation.
var formats sync.Map

type formatKey struct {
	path        string
	size, mtime int64
}

// backingOf returns the absolute backing file of a qcow2 image ("" if none).
func backingOf(ctx context.Context, path string) (string, error) {
	ii, err := info(ctx, path)
	if err != nil {
		return "", err
	}
	if ii.FullBacking != "" {
		return ii.FullBacking, nil
	}
	return ii.Backing, nil
}

// createOverlay writes a new qcow2 at path backed by base (absolute, in
// format baseFormat). The backing file is recorded as given.
func createOverlay(ctx context.Context, path, base, baseFormat string) error {
	_, err := qemuImg(ctx, "create", "-q", "-f", "qcow2", "-b", base, "-F", baseFormat, path)
	return err
}

// convertQcow2 writes src (with its whole backing chain) as one standalone
// qcow2 at dst.
func convertQcow2(ctx context.Context, src, srcFormat, dst string) error {
	_, err := qemuImg(ctx, "convert", "-f", srcFormat, "-O", "qcow2", src, dst)
	return err
}
