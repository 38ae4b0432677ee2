package moosefs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

const mib = 1 << 20

func blk(off, length int64, hosts ...string) datalocation.Block {
	return datalocation.Block{Offset: off, Length: length, Hosts: hosts}
}

func TestParseFileInfoCaptured(t *testing.T) {
	const a, b, c = "10.213.77.11", "10.213.77.12", "10.213.77.13"
	tests := []struct {
		fixture string
		size    int64
		want    []datalocation.Block
	}{
		{"pinned_a_1000b.txt", 1000, []datalocation.Block{blk(0, 1000, a)}},
		{"pinned_bc_130mib.txt", 130 * mib, []datalocation.Block{
			blk(0, 64*mib, b, c), blk(64*mib, 64*mib, b, c), blk(128*mib, 2*mib, b, c)}},
		{"pinned_bc_130mib_b_down.txt", 130 * mib, []datalocation.Block{
			blk(0, 64*mib, c), blk(64*mib, 64*mib, c), blk(128*mib, 2*mib, c)}},
		{"holes_201mib.txt", 201 * mib, []datalocation.Block{
			blk(0, 64*mib, b), blk(64*mib, 64*mib), blk(128*mib, 64*mib), blk(192*mib, 9*mib, b)}},
		{"empty.txt", 0, []datalocation.Block{}},
		{"truncated_100mib.txt", 100 * mib, []datalocation.Block{blk(0, 64*mib), blk(64*mib, 36*mib)}},
		{"no_valid_copies.txt", 1000, []datalocation.Block{blk(0, 1000)}},
		// The file grew to 200 MiB after mfsfileinfo ran: the unlisted chunk has no hosts.
		{"pinned_a_1000b.txt", 200 * mib, []datalocation.Block{
			blk(0, 64*mib, a), blk(64*mib, 64*mib), blk(128*mib, 64*mib), blk(192*mib, 8*mib)}},
		// The file shrank after mfsfileinfo ran: chunks past the size are dropped.
		{"pinned_bc_130mib.txt", 64 * mib, []datalocation.Block{blk(0, 64*mib, b, c)}},
		{"synthetic_statuses.txt", 3 * 64 * mib, []datalocation.Block{
			blk(0, 64*mib, "10.0.0.1"), blk(64*mib, 64*mib), blk(128*mib, 64*mib, "10.0.0.3", "10.0.0.1")}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := ParseFileInfo(readFixture(t, tt.fixture), tt.size)
			if err != nil {
				t.Fatalf("ParseFileInfo: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFileInfo(size %d) =\n%+v\nwant\n%+v", tt.size, got, tt.want)
			}
		})
	}
}

func TestParseFileInfoErrors(t *testing.T) {
	tests := []struct {
		name     string
		out      string
		size     int64
		wantText string
		notFound bool
	}{
		{"enoent", fixture(t, "err_enoent.txt"), 0, "ENOENT", true},
		{"directory", fixture(t, "err_directory.txt"), 0, "Operation not permitted", false},
		{"not mfs", fixture(t, "err_not_mfs.txt"), 0, "not MFS object", false},
		{"empty output", "", 0, "empty output", false},
		{"negative size", "/f:\n", -1, "negative file size", false},
		{"copy before chunk", "/f:\n\t\tcopy 1: 10.0.0.1:9422 (status:VALID)\n", 1, "outside a chunk", false},
		{"copy after hole", "/f:\n\tchunk 0: empty\n\t\tcopy 1: 10.0.0.1:9422\n", 1, "outside a chunk", false},
		{"bad address", "/f:\n\tchunk 0: 01_01 / (id:1 ver:1)\n\t\tcopy 1: nohost (status:VALID)\n", 1, "bad copy address", false},
		{"name not ip", "/f:\n\tchunk 0: 01_01 / (id:1 ver:1)\n\t\tcopy 1: cs1:9422 (status:VALID)\n", 1, "bad copy address", false},
		{"bad index", "/f:\n\tchunk x: empty\n", 1, "bad chunk index", false},
		{"index order", "/f:\n\tchunk 1: empty\n\tchunk 0: empty\n", 1, "after 1", false},
		{"error mid-listing", "/f:\n\tchunk 0: 01_01 / (id:1 ver:1)\n/f [1]: EIO (Input/output error)\n", 1, "EIO", false},
		{"second file", "/f:\n\tno chunks - empty file\n/g:\n", 0, "/g:", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFileInfo([]byte(tt.out), tt.size)
			if err == nil {
				t.Fatalf("ParseFileInfo(%q) succeeded, want an error containing %q", tt.out, tt.wantText)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if got := errors.Is(err, datalocation.ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v, want %v", err, got, tt.notFound)
			}
		})
	}
}

func FuzzParseFileInfo(f *testing.F) {
	for _, name := range []string{"pinned_a_1000b.txt", "pinned_bc_130mib.txt", "holes_201mib.txt",
		"empty.txt", "no_valid_copies.txt", "synthetic_statuses.txt", "err_enoent.txt"} {
		f.Add(readFixture(f, name), int64(130*mib))
	}
	f.Fuzz(func(t *testing.T, out []byte, size int64) {
		if size > 1<<40 { // keep the block list small
			size %= 1 << 40
		}
		blocks, err := ParseFileInfo(out, size)
		if err != nil {
			return
		}
		checkCovers(t, blocks, size)
	})
}

// checkCovers asserts that blocks tile [0, size) in chunk-sized pieces.
func checkCovers(t *testing.T, blocks []datalocation.Block, size int64) {
	t.Helper()
	var next int64
	for i, b := range blocks {
		if b.Offset != next || b.Length <= 0 || b.Length > ChunkSize {
			t.Fatalf("block %d = %+v after offset %d: not contiguous chunk-sized", i, b, next)
		}
		next = b.End()
	}
	if next != size {
		t.Fatalf("blocks end at %d, file size %d", next, size)
	}
}

func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return b
}

func fixture(tb testing.TB, name string) string { return string(readFixture(tb, name)) }
