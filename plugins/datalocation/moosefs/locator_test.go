package moosefs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

func TestNewAndFromConfig(t *testing.T) {
	for _, o := range []Options{{Mount: "mnt"}, {Mount: ""}, {Mount: "/mnt", Prefix: "data"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
	tests := map[string]datalocation.Config{
		`key "mount" is required`: {"prefix": "/"},
		`unknown key "mountpoint" (accepted: mount, prefix, mfsfileinfo)`: {"mount": "/m", "mountpoint": "/m"},
		`prefix "data": must be an absolute path`:                         {"mount": "/m", "prefix": "data"},
	}
	for want, cfg := range tests {
		if _, err := FromConfig(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromConfig(%v) = %v, want an error containing %q", cfg, err, want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct {
		prefix, file, want string
		notFound           bool
	}{
		{"/", "/data/a", "/mnt/mfs/data/a", false},
		{"/", "/data/../etc/x", "/mnt/mfs/etc/x", false},
		{"/data", "/data/a", "/mnt/mfs/a", false},
		{"/data/", "/data", "/mnt/mfs", false},
		{"/data", "/data/../etc/passwd", "", true},
		{"/data", "/database/x", "", true},
		{"/data", "/", "", true},
	}
	for _, tt := range tests {
		l, err := New(Options{Mount: "/mnt/mfs/", Prefix: tt.prefix})
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.LocalPath(tt.file)
		if got != tt.want || errors.Is(err, datalocation.ErrNotFound) != tt.notFound {
			t.Errorf("prefix %s: LocalPath(%q) = %q, %v; want %q (not found: %v)", tt.prefix, tt.file, got, err, tt.want, tt.notFound)
		}
	}
	l, _ := New(Options{Mount: "/mnt"})
	if _, err := l.LocalPath("data/a"); err == nil {
		t.Error("LocalPath(relative) succeeded")
	}
}

// fakeTool writes a stand-in for mfsfileinfo that prints fixture and exits
// with code.
func fakeTool(t *testing.T, fixture string, code string) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "mfsfileinfo")
	abs, err := filepath.Abs(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	body := "#!/bin/sh\ncat '" + abs + "'\nexit " + code + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// TestLocatorWithFakeTool runs the Locator against a plain directory and a
// scripted mfsfileinfo, so it needs no MooseFS.
func TestLocatorWithFakeTool(t *testing.T) {
	mount := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mount, "data", "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(mount, "data", "big")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f, 130*mib); err != nil {
		t.Fatal(err)
	}
	const b, c = "10.213.77.12", "10.213.77.13"
	tests := []struct {
		name, fixture, code, file string
		offset, length            int64
		want                      []datalocation.Block
		wantErr                   string
		notFound                  bool
	}{
		{name: "whole file", fixture: "pinned_bc_130mib.txt", code: "0", file: "/data/big", length: -1,
			want: []datalocation.Block{blk(0, 64*mib, b, c), blk(64*mib, 64*mib, b, c), blk(128*mib, 2*mib, b, c)}},
		{name: "middle chunk", fixture: "pinned_bc_130mib.txt", code: "0", file: "/data/big", offset: 64*mib + 10, length: mib,
			want: []datalocation.Block{blk(64*mib, 64*mib, b, c)}},
		{name: "tool says ENOENT", fixture: "err_enoent.txt", code: "1", file: "/data/big", length: -1,
			wantErr: "ENOENT", notFound: true},
		{name: "tool fails", fixture: "err_not_mfs.txt", code: "1", file: "/data/big", length: -1,
			wantErr: "not MFS object"},
		{name: "missing file", fixture: "empty.txt", code: "0", file: "/data/nope", length: -1,
			wantErr: "stat", notFound: true},
		{name: "directory", fixture: "empty.txt", code: "0", file: "/data/dir", length: -1,
			wantErr: "not a regular file"},
		{name: "negative offset", fixture: "empty.txt", code: "0", file: "/data/big", offset: -1, length: -1,
			wantErr: "offset -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(Options{Mount: mount, FileInfo: fakeTool(t, tt.fixture, tt.code)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.BlockInfoByteRange(context.Background(), tt.file, tt.offset, tt.length)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, datalocation.ErrNotFound) != tt.notFound {
					t.Fatalf("err = %v, want one containing %q (not found: %v)", err, tt.wantErr, tt.notFound)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestLocatorCancelled(t *testing.T) {
	mount := t.TempDir()
	os.WriteFile(filepath.Join(mount, "f"), []byte("x"), 0o644)
	l, _ := New(Options{Mount: mount, FileInfo: fakeTool(t, "pinned_a_1000b.txt", "0")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.BlockInfoByteRange(ctx, "/f", 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}
