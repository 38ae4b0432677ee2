package moosefs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefs"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefstest"
	"github.com/tashi-go/tashi/plugins/datalocation/webhdfs"
)

const mib = 1 << 20

type rangeCase struct {
	name           string
	file           string
	offset, length int64
	want           []datalocation.Block
}

// TestRealMooseFS writes pinned files into a real MooseFS and checks what
// the Locator, and a webhdfs Client reading it through webhdfs.Handler, say.
func TestRealMooseFS(t *testing.T) {
	start := time.Now()
	c := moosefstest.Start(t)
	t.Logf("cluster up in %v at %s: %+v", time.Since(start), c.Mount, c.Chunkservers())
	a, b, cc := c.Addr("A"), c.Addr("B"), c.Addr("C")

	start = time.Now()
	for _, f := range []struct {
		name   string
		size   int64
		labels []string
	}{
		{"/pin/a", 1000, []string{"A"}},
		{"/pin/b", 10 * mib, []string{"B"}},
		{"/pin/bc", 5 * mib, []string{"B", "C"}},
		{"/multi/big", 130 * mib, []string{"A", "C"}},
		{"/pin/empty", 0, []string{"A"}},
	} {
		if err := c.WriteFile(f.name, f.size, f.labels...); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("files written in %v", time.Since(start))

	loc, err := moosefs.FromConfig(c.LocatorConfig())
	if err != nil {
		t.Fatal(err)
	}
	big := []datalocation.Block{blk(0, 64*mib, a, cc), blk(64*mib, 64*mib, a, cc), blk(128*mib, 2*mib, a, cc)}
	cases := []rangeCase{
		{"pinned to A", "/pin/a", 0, -1, []datalocation.Block{blk(0, 1000, a)}},
		{"pinned to B", "/pin/b", 0, -1, []datalocation.Block{blk(0, 10*mib, b)}},
		{"pinned to B and C", "/pin/bc", 0, -1, []datalocation.Block{blk(0, 5*mib, b, cc)}},
		{"three chunks", "/multi/big", 0, -1, big},
		{"middle chunk only", "/multi/big", 64*mib + 1, 10 * mib, big[1:2]},
		{"last two chunks", "/multi/big", 100 * mib, -1, big[1:]},
		{"past the end", "/multi/big", 130 * mib, -1, nil},
		{"empty file", "/pin/empty", 0, -1, nil},
	}
	t.Run("locator", func(t *testing.T) { checkCases(t, loc, cases) })

	srv := httptest.NewServer(webhdfs.Handler(loc))
	defer srv.Close()
	client, err := webhdfs.New(webhdfs.Options{URL: srv.URL, User: "tashi"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("webhdfs through Handler", func(t *testing.T) { checkCases(t, client, cases) })

	t.Run("prefix", func(t *testing.T) {
		sub, err := moosefs.New(moosefs.Options{Mount: c.Path("/pin"), Prefix: "/data"})
		if err != nil {
			t.Fatal(err)
		}
		checkCases(t, sub, []rangeCase{{"prefixed name", "/data/bc", 0, -1, []datalocation.Block{blk(0, 5*mib, b, cc)}}})
		if _, err := sub.BlockInfoByteRange(context.Background(), "/pin/bc", 0, -1); !errors.Is(err, datalocation.ErrNotFound) {
			t.Errorf("name outside the prefix: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, l := range []datalocation.Locator{loc, client} {
			if _, err := l.BlockInfoByteRange(context.Background(), "/pin/missing", 0, -1); !errors.Is(err, datalocation.ErrNotFound) {
				t.Errorf("%T: missing file: err = %v, want ErrNotFound", l, err)
			}
			if _, err := l.BlockInfoByteRange(context.Background(), "/pin", 0, -1); err == nil || errors.Is(err, datalocation.ErrNotFound) {
				t.Errorf("%T: directory: err = %v, want a non-ErrNotFound error", l, err)
			}
		}
	})

	t.Run("host map", func(t *testing.T) {
		hm, err := datalocation.ParseHostMap(fmt.Sprintf("%s=node-c", cc))
		if err != nil {
			t.Fatal(err)
		}
		compute := []datalocation.ComputeHost{{Name: "node-a", Addrs: []string{"192.0.2.1", a}}, {Name: "node-c"}}
		blocks, _ := loc.BlockInfoByteRange(context.Background(), "/multi/big", 0, 1)
		var names []string
		for _, h := range blocks[0].Hosts {
			if n, ok := hm.Map(h, compute); ok {
				names = append(names, n)
			}
		}
		if slices.Sort(names); !reflect.DeepEqual(names, []string{"node-a", "node-c"}) {
			t.Errorf("hosts %v map to %v, want node-a, node-c", blocks[0].Hosts, names)
		}
	})

	t.Run("chunkserver down", func(t *testing.T) {
		if err := c.StopChunkserver("A"); err != nil {
			t.Fatal(err)
		}
		checkCases(t, loc, []rangeCase{
			{"no valid copies", "/pin/a", 0, -1, []datalocation.Block{blk(0, 1000)}},
			{"one copy left", "/multi/big", 0, 1, []datalocation.Block{blk(0, 64*mib, cc)}},
		})
	})
}

func checkCases(t *testing.T, loc datalocation.Locator, cases []rangeCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := loc.BlockInfoByteRange(context.Background(), tc.file, tc.offset, tc.length)
		if err != nil {
			t.Errorf("%s: BlockInfoByteRange(%s, %d, %d): %v", tc.name, tc.file, tc.offset, tc.length, err)
			continue
		}
		for i := range got {
			slices.Sort(got[i].Hosts)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: BlockInfoByteRange(%s, %d, %d) =\n%+v\nwant\n%+v", tc.name, tc.file, tc.offset, tc.length, got, tc.want)
		}
	}
}

func blk(off, length int64, hosts ...string) datalocation.Block {
	if len(hosts) == 0 {
		hosts = nil
	}
	slices.Sort(hosts)
	return datalocation.Block{Offset: off, Length: length, Hosts: hosts}
}
