package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Copy is Tashi's copyImage: a byte copy of image src as a new image dst
// (holes stay holes). dst must not exist. src's boot file, if any, is
// copied too, so that the copy boots the same way.
func (s Store) Copy(ctx context.Context, src, dst string) error {
	return s.derive(ctx, "copy", src, dst, func(srcPath, _, tmp string) error {
		return copyFile(ctx, srcPath, tmp)
	})
}

// Clone is Tashi's cloneImage: a new qcow2 image dst whose backing file is
// image src (absolute path). Writes to dst leave src unchanged; src must
// not change while dst exists.
func (s Store) Clone(ctx context.Context, src, dst string) error {
	return s.derive(ctx, "clone", src, dst, func(srcPath, format, tmp string) error {
		return createOverlay(ctx, tmp, srcPath, format)
	})
}

// Rebase is Tashi's rebaseImage: image src, with its whole backing chain,
// written as a new standalone qcow2 image dst.
func (s Store) Rebase(ctx context.Context, src, dst string) error {
	return s.derive(ctx, "rebase", src, dst, func(srcPath, format, tmp string) error {
		return convertQcow2(ctx, srcPath, format, tmp)
	})
}

// derive makes image dst from image src with write, which fills a temp
// file; the result is published under dst only if dst still does not
// exist (a hard link, which never replaces), then src's boot file follows.
func (s Store) derive(ctx context.Context, verb, src, dst string, write func(srcPath, format, tmp string) error) error {
	what := fmt.Sprintf("%s image %q to %q", verb, src, dst)
	srcPath, err := s.Path(src)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := CheckName(dst); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	dstPath := filepath.Join(s.ImagesDir(), dst)
	if _, err := os.Lstat(dstPath); err == nil {
		return fmt.Errorf("%s: %s: %w", what, dstPath, ErrExists)
	}
	format, err := s.Format(srcPath)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	tmp, err := s.tempFile(dst)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer os.Remove(tmp)
	if err := write(srcPath, format, tmp); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := publish(tmp, dstPath); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := s.copyBootFile(ctx, src, dst); err != nil {
		return fmt.Errorf("%s: image written, but its boot file: %w", what, err)
	}
	return nil
}

// tempFile reserves an empty file in ImagesDir/.tmp for building name.
func (s Store) tempFile(name string) (string, error) {
	dir := filepath.Join(s.ImagesDir(), tmpDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, name+".*")
	if err != nil {
		return "", err
	}
	err = errors.Join(f.Chmod(0o644), f.Close())
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// publish links tmp to dst, failing with ErrExists if dst exists.
func publish(tmp, dst string) error {
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", dst, ErrExists)
		}
		return err
	}
	return nil
}

// copyBootFile copies <src>.boot.json to <dst>.boot.json when src has one
// and dst has none. Its paths are relative to ImagesDir, so they still hold.
func (s Store) copyBootFile(ctx context.Context, src, dst string) error {
	from := filepath.Join(s.ImagesDir(), src+bootSuffix)
	to := filepath.Join(s.ImagesDir(), dst+bootSuffix)
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	tmp, err := s.tempFile(dst + bootSuffix)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := copyFile(ctx, from, tmp); err != nil {
		return err
	}
	if err := publish(tmp, to); err != nil && !errors.Is(err, ErrExists) {
		return err
	}
	return nil
}

// copyFile copies src over dst (which exists) in 1 MiB chunks, seeking
// over all-zero chunks so sparse images stay sparse, and keeps src's
// permission bits. It stops when ctx is done.
func copyFile(ctx context.Context, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, 1<<20)
	zero := make([]byte, len(buf))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			if bytes.Equal(buf[:n], zero[:n]) {
				_, err = out.Seek(int64(n), io.SeekCurrent)
			} else {
				_, err = out.Write(buf[:n])
			}
			if err != nil {
				return err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if err := out.Truncate(fi.Size()); err != nil {
		return err
	}
	if err := out.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	return out.Close()
}
