package images

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrBadName: an image name that is empty, hidden, or not a plain file
	// name ("/", "..", NUL).
	ErrBadName = errors.New("invalid image name")
	// ErrNoImage: no such image in the store.
	ErrNoImage = errors.New("no such image")
	// ErrExists: the destination of a copy, clone or rebase already exists.
	ErrExists = errors.New("image already exists")
	// ErrBadBoot: a <image>.boot.json that cannot be used (bad JSON, no
	// kernel, a path outside the images folder, a missing file).
	ErrBadBoot = errors.New("invalid boot file")
	// ErrUnsupportedFormat: an image that is neither qcow2 nor raw.
	ErrUnsupportedFormat = errors.New("unsupported image format")
	// ErrOverlayMismatch: an instance's overlay exists but sits on another
	// base image, so it is not reused and not replaced.
	ErrOverlayMismatch = errors.New("overlay has another backing file")
	// ErrNoRecipe: images/tiny/build.sh was not found (EnsureTiny).
	ErrNoRecipe = errors.New("tiny guest recipe not found")
)

// ToolError is a failed run of an external tool (qemu-img, the tiny guest
// recipe). It carries the tail of what the tool wrote on stderr.
type ToolError struct {
	Tool   string
	Args   []string
	Stderr string
	Err    error
}

func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Tool, strings.Join(e.Args, " "), e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }

// maxStderr bounds how much of a tool's stderr an error carries.
const maxStderr = 4096

// tail returns the last maxStderr bytes of b, trimmed.
func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxStderr {
		s = "..." + s[len(s)-maxStderr:]
	}
	return s
}
