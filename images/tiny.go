package images

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TinyImage is the name of the tiny test guest's root disk in the store.
const TinyImage = "tiny.qcow2"

// modulePath is this module's path, as go.mod declares it.
const modulePath = "github.com/tashi-go/tashi"

// recipe is the tiny guest's build script, relative to the module root.
const recipe = "images/tiny/build.sh"

// EnsureTiny builds the tiny test guest (images/tiny/build.sh) into
// <prefix>/images and returns its image name, TinyImage; its boot file
// names the kernel and initrd next to it. Builds are cached (see the
// script), so a call with nothing changed takes about a second and
// touches no file. Safe to call from several processes at once: callers
// take turns on a lock in the cache folder. Meant for tests, benchmarks
// and `make up`; it needs the source tree (found from the working
// directory) and apt.
func EnsureTiny(ctx context.Context, prefix string) (string, error) {
	what := fmt.Sprintf("build the tiny guest into %s", Store{Prefix: prefix}.ImagesDir())
	script, err := findRecipe(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	cache, err := tinyCache()
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "ensure.lock"))
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer unlock()
	if err := runRecipe(ctx, script, cache, Store{Prefix: prefix}.ImagesDir()); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return TinyImage, nil
}

// tinyCache is the recipe's cache folder: $TASHI_IMAGE_CACHE, or
// tashi/images in the user's cache folder ($XDG_CACHE_HOME or ~/.cache),
// the same default the script uses.
func tinyCache() (string, error) {
	dir := os.Getenv("TASHI_IMAGE_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("find the image cache (set TASHI_IMAGE_CACHE): %w", err)
		}
		dir = filepath.Join(base, "tashi", "images")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create the image cache: %w", err)
	}
	return abs(dir), nil
}

// runRecipe runs the script in its own process group, so that a cancelled
// ctx stops apt-get, tar and xz along with it.
func runRecipe(ctx context.Context, script, cache, outdir string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script, outdir)
	cmd.Env = append(os.Environ(), "TASHI_IMAGE_CACHE="+cache)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return &ToolError{Tool: "bash", Args: []string{script, outdir}, Stderr: tail(out.Bytes()), Err: err}
	}
	return nil
}

// findRecipe finds images/tiny/build.sh in this module's source tree:
// first walking up from the working directory to our go.mod, then asking
// `go env GOMOD`.
func findRecipe(ctx context.Context) (string, error) {
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if ok, _ := isOurModule(dir); ok {
				return filepath.Join(dir, recipe), nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
		tried = append(tried, "the folders above "+wd)
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err == nil {
		mod := strings.TrimSpace(string(out))
		if mod != "" && mod != os.DevNull {
			if ok, _ := isOurModule(filepath.Dir(mod)); ok {
				return filepath.Join(filepath.Dir(mod), recipe), nil
			}
		}
	}
	tried = append(tried, "go env GOMOD")
	return "", fmt.Errorf("no %s module with %s in %s: %w", modulePath, recipe, strings.Join(tried, " or "), ErrNoRecipe)
}

// isOurModule says whether dir holds this module's go.mod and the recipe.
func isOurModule(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			if strings.Trim(fields[1], `"`) != modulePath {
				return false, nil
			}
			_, err := os.Stat(filepath.Join(dir, recipe))
			return err == nil, err
		}
	}
	return false, sc.Err()
}

// lockFile takes an exclusive flock(2) on path, polling so that ctx can
// cancel the wait. The returned func releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
