package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/scheduler"
)

// fakeLocator answers from a table of files; a file absent from it is
// not found, one in errs fails with that error, one in hang waits for
// the context. It counts the calls per file.
type fakeLocator struct {
	files map[string][]datalocation.Block
	errs  map[string]error
	hang  map[string]bool

	mu    sync.Mutex
	calls map[string]int
}

var _ datalocation.Locator = (*fakeLocator)(nil)

func (f *fakeLocator) BlockInfoByteRange(ctx context.Context, file string, offset, length int64) ([]datalocation.Block, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[file]++
	f.mu.Unlock()
	if offset != 0 || length != -1 {
		return nil, fmt.Errorf("asked for [%d, +%d), want the whole file", offset, length)
	}
	switch {
	case f.hang[file]:
		<-ctx.Done()
		return nil, fmt.Errorf("locate %s: %w", file, ctx.Err())
	case f.errs[file] != nil:
		return nil, f.errs[file]
	}
	bs, ok := f.files[file]
	if !ok {
		return nil, fmt.Errorf("locate %s: %w", file, datalocation.ErrNotFound)
	}
	return bs, nil
}

func (f *fakeLocator) called(file string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[file]
}

func block(off, n int64, hosts ...string) datalocation.Block {
	return datalocation.Block{Offset: off, Length: n, Hosts: hosts}
}

// testHosts: h1 is known by name and by an explicit entry, h2 by its
// API address, h3 by its tunnel address.
var testHosts = []api.Host{
	{ID: 11, Name: "h1", Address: "127.0.0.1:9001"},
	{ID: 12, Name: "h2", Address: "10.0.0.2:9883"},
	{ID: 13, Name: "h3", Address: "127.0.0.1:9003", TunnelAddress: "192.168.0.3"},
}

func resolver(t *testing.T, loc datalocation.Locator, hostMap string) *dataResolver {
	t.Helper()
	hm, err := datalocation.ParseHostMap(hostMap)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{HostMap: hm, DataCacheTTL: time.Minute, DataTimeout: DefaultDataTimeout}
	if loc != nil {
		cfg.Locator = loc
	}
	return newDataResolver(cfg, slog.New(slog.DiscardHandler))
}

func request(id, group int64, files ...string) scheduler.Request {
	return scheduler.Request{InstanceID: id, Group: group, Cores: 1, Memory: 1,
		Hints: scheduler.Hints{DFSFiles: files}}
}

// Blocks become scheduler blocks with the storage hosts mapped to host
// ids (name, explicit entry, address, tunnel address; unknown ones
// dropped); a group's members share one Data with Group set.
func TestFillMapsBlocks(t *testing.T) {
	loc := &fakeLocator{files: map[string][]datalocation.Block{
		"/a": {block(0, 64, "h1", "10.0.0.2"), block(64, 10, "192.168.0.3", "10.7.7.7")},
		"/b": {block(0, 5, "10.9.9.9")},
	}}
	r := resolver(t, loc, "10.9.9.9=h1")
	invalid := request(4, 0, "/a")
	invalid.Hints.Invalid = "bad"
	reqs := []scheduler.Request{request(1, 0, "/a", "/b"), request(2, 7, "/a"), request(3, 7, "/a"), invalid,
		{InstanceID: 5}}
	notes := r.fill(context.Background(), testHosts, reqs)
	if len(notes) != 0 {
		t.Errorf("notes = %v, want none", notes)
	}
	want := &scheduler.Data{Blocks: []scheduler.Block{{Bytes: 64, Hosts: []int64{11, 12}}, {Bytes: 10, Hosts: []int64{13}},
		{Bytes: 5, Hosts: []int64{11}}}}
	if !reflect.DeepEqual(reqs[0].Data, want) {
		t.Errorf("ungrouped Data = %+v, want %+v", reqs[0].Data, want)
	}
	group := &scheduler.Data{Group: true, Blocks: want.Blocks[:2]}
	if !reflect.DeepEqual(reqs[1].Data, group) || reqs[1].Data != reqs[2].Data {
		t.Errorf("group Data = %+v and %+v, want one shared %+v", reqs[1].Data, reqs[2].Data, group)
	}
	if reqs[3].Data != nil || reqs[4].Data != nil {
		t.Errorf("Data of a request with invalid hints or no files: %+v, %+v", reqs[3].Data, reqs[4].Data)
	}
	if n := loc.called("/a"); n != 1 {
		t.Errorf("/a looked up %d times, want once", n)
	}
}

// A file that cannot be resolved leaves its request without (its) data
// and with a note saying why; the request is still placed.
func TestFillNotes(t *testing.T) {
	many := []string{"/m1", "/m2", "/m3", "/m4", "/m5"}
	loc := &fakeLocator{
		files: map[string][]datalocation.Block{"/ok": {block(0, 64, "h1")}},
		errs:  map[string]error{"/down": errors.New("dial tcp 10.0.0.9:9870: connection refused")},
	}
	tests := []struct {
		name     string
		loc      datalocation.Locator
		files    []string
		want     string
		partial  bool
		withData bool
	}{
		{"not found", loc, []string{"/data/x"}, "dfsFiles /data/x: not found", false, false},
		{"plugin down", loc, []string{"/down"},
			"dfsFiles /down: data location plugin failed: dial tcp 10.0.0.9:9870: connection refused", false, false},
		{"partial", loc, []string{"/ok", "/data/x"}, "dfsFiles /data/x: not found", true, true},
		{"many", loc, many, "dfsFiles /m1: not found; /m2: not found; /m3: not found; and 2 more not resolved", false, false},
		{"no plugin", nil, []string{"/ok"}, "dfsFiles: no data location plugin configured ([DataLocation] plugin)", false, false},
	}
	for _, tt := range tests {
		r := resolver(t, tt.loc, "")
		reqs := []scheduler.Request{request(1, 0, tt.files...)}
		notes := r.fill(context.Background(), testHosts, reqs)
		n := notes[1]
		if n.text != tt.want || n.partial != tt.partial {
			t.Errorf("%s: note = %+v, want %q (partial %v)", tt.name, n, tt.want, tt.partial)
		}
		if (reqs[0].Data != nil) != tt.withData {
			t.Errorf("%s: Data = %+v, want data: %v", tt.name, reqs[0].Data, tt.withData)
		}
	}
	if got := (dataNote{text: "dfsFiles /data/x: not found"}).placed(); got != "dfsFiles /data/x: not found; placed without locality" {
		t.Errorf("placed() = %q", got)
	}
}

// A plugin that does not answer holds placement up for DataTimeout only.
func TestFillTimeout(t *testing.T) {
	loc := &fakeLocator{hang: map[string]bool{"/slow": true}, files: map[string][]datalocation.Block{"/ok": {block(0, 1, "h2")}}}
	r := resolver(t, loc, "")
	r.timeout = 50 * time.Millisecond
	reqs := []scheduler.Request{request(1, 0, "/slow", "/ok")}
	notes := r.fill(context.Background(), testHosts, reqs)
	if want := "dfsFiles /slow: the data location plugin did not answer in time"; notes[1].text != want || !notes[1].partial {
		t.Errorf("note = %+v, want %q, partial", notes[1], want)
	}
	if reqs[0].Data == nil || len(reqs[0].Data.Blocks) != 1 {
		t.Errorf("Data = %+v, want /ok's block", reqs[0].Data)
	}
}

// Answers are reused for the TTL, failures for at most negativeTTL, and
// nothing is kept without a TTL or when the agent was stopping.
func TestLookupCache(t *testing.T) {
	loc := &fakeLocator{files: map[string][]datalocation.Block{"/ok": {block(0, 1, "h1")}}}
	r := resolver(t, loc, "")
	now := time.Unix(1000, 0)
	r.now = func() time.Time { return now }
	look := func(files ...string) { r.lookup(context.Background(), files) }
	look("/ok", "/gone")
	look("/ok", "/gone")
	if a, b := loc.called("/ok"), loc.called("/gone"); a != 1 || b != 1 {
		t.Errorf("within both TTLs: /ok asked %d times, /gone %d; want 1, 1", a, b)
	}
	now = now.Add(negativeTTL)
	look("/ok", "/gone")
	if a, b := loc.called("/ok"), loc.called("/gone"); a != 1 || b != 2 {
		t.Errorf("after negativeTTL: /ok asked %d times, /gone %d; want 1, 2", a, b)
	}
	now = now.Add(time.Minute)
	look("/ok")
	if a := loc.called("/ok"); a != 2 {
		t.Errorf("after the TTL: /ok asked %d times, want 2", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	loc.hang = map[string]bool{"/slow": true}
	r.lookup(ctx, []string{"/slow"})
	if _, kept := r.cache["/slow"]; kept {
		t.Error("a lookup cut short by cancellation was cached")
	}
	r.ttl = 0
	r.cache = map[string]cachedFile{}
	look("/ok")
	look("/ok")
	if a := loc.called("/ok"); a != 4 {
		t.Errorf("without a TTL: /ok asked %d times in all, want 4", a)
	}
}

func TestSetRacks(t *testing.T) {
	topo, err := telemetry.ParseTopology("r1: h1 h2\nh3 rack=r2\n")
	if err != nil {
		t.Fatal(err)
	}
	s := &scheduler.Snapshot{Hosts: []scheduler.Host{{Name: "h1"}, {Name: "h2"}, {Name: "h3"}, {Name: "h4"}}}
	setRacks(s, topo)
	var got []string
	for _, h := range s.Hosts {
		got = append(got, h.Rack)
	}
	if strings.Join(got, ",") != "r1,r1,r2," {
		t.Errorf("racks = %q, want r1, r1, r2 and none for the host not in the topology", got)
	}
	setRacks(s, nil) // no topology: nothing changes, nothing breaks
}
