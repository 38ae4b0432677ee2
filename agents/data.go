package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/scheduler"
)

// This file resolves the hint dfsFiles before Place runs: the blocks of
// each file come from the data location plugin (cached per file), their
// storage hosts are mapped to the snapshot's hosts, and the result goes
// into Request.Data. A file that cannot be resolved does not hold the
// request back: it is placed without that file's locality, and the
// explanation says why.

// Defaults of the data resolution.
const (
	DefaultDataTimeout = 10 * time.Second // Config.DataTimeout
	// negativeTTL bounds how long a failed lookup is remembered, so that
	// a file written just after a VM asked for it soon counts.
	negativeTTL = 5 * time.Second
	// lookupWorkers is how many files are looked up at once.
	lookupWorkers = 8
	// maxListed is how many unresolved files an explanation names.
	maxListed = 3
)

// errNoPlugin stands for every lookup when no plugin is configured.
var errNoPlugin = errors.New("no data location plugin configured ([DataLocation] plugin)")

// fileResult is one file's blocks, or why there are none.
type fileResult struct {
	blocks []datalocation.Block
	err    error
}

// cachedFile is a lookup kept until its expiry.
type cachedFile struct {
	fileResult
	until time.Time
}

// dataResolver fills Request.Data from the hint dfsFiles.
type dataResolver struct {
	loc     datalocation.Locator // nil: every file is unresolved (errNoPlugin)
	hostMap datalocation.HostMap
	ttl     time.Duration // 0: nothing is cached
	timeout time.Duration // bound on one resolution's lookups
	now     func() time.Time
	log     *slog.Logger

	mu     sync.Mutex
	cache  map[string]cachedFile
	warned map[string]bool // storage hosts already reported as unmapped
}

func newDataResolver(cfg Config, log *slog.Logger) *dataResolver {
	return &dataResolver{loc: cfg.Locator, hostMap: cfg.HostMap, ttl: cfg.DataCacheTTL,
		timeout: cfg.DataTimeout, now: time.Now, log: log,
		cache: map[string]cachedFile{}, warned: map[string]bool{}}
}

// dataNote says which of a request's files were not resolved.
type dataNote struct {
	text    string // "dfsFiles /data/x: not found"
	partial bool   // some of its files were resolved
}

// placed is the note for an instance that was placed anyway.
func (n dataNote) placed() string {
	if n.partial {
		return n.text + "; placed with the locality of the other files"
	}
	return n.text + "; placed without locality"
}

// fill sets Data on every request with files (the same *Data for the
// members of a group reading the same files, with Group set) and returns
// a note per instance some of whose files were not resolved.
func (r *dataResolver) fill(ctx context.Context, hosts []api.Host, reqs []scheduler.Request) map[int64]dataNote {
	files := wantedFiles(reqs)
	if len(files) == 0 {
		return nil
	}
	got := r.lookup(ctx, files)
	ids := r.hostIDs(hosts)
	type resolved struct {
		data *scheduler.Data
		note dataNote
	}
	shared := map[string]resolved{}
	notes := map[int64]dataNote{}
	for i := range reqs {
		rq := &reqs[i]
		if !wantsData(rq) {
			continue
		}
		key := fmt.Sprintf("%d\x00%s", rq.Group, strings.Join(rq.Hints.DFSFiles, "\x00"))
		res, ok := shared[key]
		if !ok {
			res.data = buildData(rq.Hints.DFSFiles, got, ids, rq.Group != 0)
			res.note = unresolvedNote(rq.Hints.DFSFiles, got)
			shared[key] = res
		}
		rq.Data = res.data
		if res.note.text != "" {
			notes[rq.InstanceID] = res.note
		}
	}
	return notes
}

func wantsData(rq *scheduler.Request) bool {
	return len(rq.Hints.DFSFiles) > 0 && rq.Hints.Invalid == ""
}

// wantedFiles lists the distinct files of the requests, first seen first.
func wantedFiles(reqs []scheduler.Request) []string {
	var out []string
	seen := map[string]bool{}
	for i := range reqs {
		if !wantsData(&reqs[i]) {
			continue
		}
		for _, f := range reqs[i].Hints.DFSFiles {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// lookup returns every file's blocks: from the cache, else from the
// plugin, asked for the files in parallel under one timeout.
func (r *dataResolver) lookup(ctx context.Context, files []string) map[string]fileResult {
	out := make(map[string]fileResult, len(files))
	todo := r.cached(files, out)
	if len(todo) == 0 {
		return out
	}
	if r.loc == nil {
		for _, f := range todo {
			out[f] = fileResult{err: errNoPlugin}
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	results := make([]fileResult, len(todo))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(lookupWorkers, len(todo)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(todo); i = int(next.Add(1)) - 1 {
				results[i] = r.locate(ctx, todo[i])
			}
		})
	}
	wg.Wait()
	r.remember(todo, results)
	for i, f := range todo {
		out[f] = results[i]
	}
	return out
}

// cached puts the files the cache holds into out (dropping expired
// entries) and returns the others.
func (r *dataResolver) cached(files []string, out map[string]fileResult) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for f, c := range r.cache {
		if !now.Before(c.until) {
			delete(r.cache, f)
		}
	}
	var todo []string
	for _, f := range files {
		if c, ok := r.cache[f]; ok {
			out[f] = c.fileResult
		} else {
			todo = append(todo, f)
		}
	}
	return todo
}

// remember caches the lookups: answers for the TTL, failures for at most
// negativeTTL; a lookup cut short by the agent stopping is not kept.
func (r *dataResolver) remember(files []string, results []fileResult) {
	if r.ttl <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for i, f := range files {
		ttl := r.ttl
		switch err := results[i].err; {
		case errors.Is(err, context.Canceled):
			continue
		case err != nil:
			ttl = min(ttl, negativeTTL)
		}
		r.cache[f] = cachedFile{fileResult: results[i], until: now.Add(ttl)}
	}
}

// locate asks the plugin for the blocks of the whole file.
func (r *dataResolver) locate(ctx context.Context, file string) fileResult {
	blocks, err := r.loc.BlockInfoByteRange(ctx, file, 0, -1)
	if err != nil && !errors.Is(err, datalocation.ErrNotFound) {
		r.log.Warn("locate the blocks of a dfsFiles file", "file", file, "err", err)
	}
	return fileResult{blocks: blocks, err: err}
}

// buildData turns the resolved files' blocks into a Data; nil when they
// hold no block.
func buildData(files []string, got map[string]fileResult, ids func(string) (int64, bool), group bool) *scheduler.Data {
	d := &scheduler.Data{Group: group}
	for _, f := range files {
		res := got[f]
		if res.err != nil {
			continue
		}
		for _, b := range res.blocks {
			blk := scheduler.Block{Bytes: b.Length}
			for _, s := range b.Hosts {
				if id, ok := ids(s); ok {
					blk.Hosts = append(blk.Hosts, id)
				}
			}
			d.Blocks = append(d.Blocks, blk)
		}
	}
	if len(d.Blocks) == 0 {
		return nil
	}
	return d
}

// unresolvedNote names the files that were not resolved and why, the
// first maxListed of them; the zero dataNote when every file was.
func unresolvedNote(files []string, got map[string]fileResult) dataNote {
	var bad []string
	noPlugin := true
	for _, f := range files {
		if err := got[f].err; err != nil {
			bad = append(bad, f+": "+lookupReason(err))
			noPlugin = noPlugin && errors.Is(err, errNoPlugin)
		}
	}
	switch {
	case len(bad) == 0:
		return dataNote{}
	case noPlugin:
		return dataNote{text: "dfsFiles: " + errNoPlugin.Error(), partial: len(bad) < len(files)}
	}
	text := "dfsFiles " + strings.Join(bad[:min(len(bad), maxListed)], "; ")
	if len(bad) > maxListed {
		text += fmt.Sprintf("; and %d more not resolved", len(bad)-maxListed)
	}
	return dataNote{text: text, partial: len(bad) < len(files)}
}

// lookupReason is a lookup error in a few words.
func lookupReason(err error) string {
	switch {
	case errors.Is(err, datalocation.ErrNotFound):
		return "not found"
	case errors.Is(err, context.DeadlineExceeded):
		return "the data location plugin did not answer in time"
	case errors.Is(err, errNoPlugin):
		return errNoPlugin.Error()
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:197] + "..."
	}
	return "data location plugin failed: " + msg
}

// hostIDs returns the mapping of storage hosts to the snapshot's host
// ids, by the host map (names, then the host part of each host's
// Address and TunnelAddress). A storage host that maps to no host is
// logged once: its copies count as remote.
func (r *dataResolver) hostIDs(hosts []api.Host) func(string) (int64, bool) {
	compute := make([]datalocation.ComputeHost, len(hosts))
	byName := make(map[string]int64, len(hosts))
	for i, h := range hosts {
		compute[i] = datalocation.ComputeHost{Name: h.Name, Addrs: addrs(h)}
		byName[h.Name] = h.ID
	}
	type answer struct {
		id int64
		ok bool
	}
	memo := map[string]answer{}
	return func(storage string) (int64, bool) {
		if a, seen := memo[storage]; seen {
			return a.id, a.ok
		}
		name, ok := r.hostMap.Map(storage, compute)
		id, known := byName[name]
		a := answer{id: id, ok: ok && known}
		memo[storage] = a
		if !a.ok {
			r.warnUnmapped(storage)
		}
		return a.id, a.ok
	}
}

func (r *dataResolver) warnUnmapped(storage string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warned[storage] {
		return
	}
	r.warned[storage] = true
	r.log.Warn("a storage host matches no compute host; its copies count as remote (see [DataLocation] hostMap)",
		"storage_host", storage)
}

// addrs are the host parts of a host's addresses.
func addrs(h api.Host) []string {
	var out []string
	for _, a := range []string{h.Address, h.TunnelAddress} {
		if a == "" {
			continue
		}
		if host, _, err := net.SplitHostPort(a); err == nil {
			a = host
		}
		out = append(out, a)
	}
	return out
}
