package qemu

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Suspend files.
//
// QEMU 7.2 has no file: migration URI. Instead of exec: (QEMU's shell
// must then be trusted with the path, and completion of the pipeline is
// not visible to us), the driver hands QEMU one end of a pipe with
// getfd, migrates to fd:, and writes the stream to FILE itself —
// gzip-compressed (fastest level) when FILE ends in .gz, so `gzip -dc`
// reads it too. The guest is stopped first, so the file holds one
// consistent copy of RAM; the stream therefore always records "paused",
// and whether to continue after resume is kept in the sidecar FILE.json
// (suspendMeta). The data goes to FILE.part and is renamed when QEMU
// reports completion and the file is synced: FILE exists only complete.
type suspendMeta struct {
	Version     int       `json:"version"`
	InstanceID  int64     `json:"instance_id"`
	Paused      bool      `json:"paused"` // paused when suspended: resume leaves it paused
	SuspendedAt time.Time `json:"suspended_at"`
	QEMU        string    `json:"qemu"`
	Accel       string    `json:"accel"`
	Machine     string    `json:"machine"`
	MemoryMiB   int       `json:"memory_mib"`
	Cores       int       `json:"cores"`
	TotalMs     int64     `json:"total_ms"`
	StreamBytes int64     `json:"stream_bytes"` // migration stream, before compression
	FileBytes   int64     `json:"file_bytes"`
	GzipMembers []int64   `json:"gzip_members,omitempty"` // compressed size of each member, for parallel reading
}

const (
	suspendFD  = "tashi-suspend"
	resumeFD   = "tashi-resume"
	pipeSize   = 1 << 20
	fSetPipeSz = 1031 // F_SETPIPE_SZ
)

// checkSuspendPath accepts an absolute path in an existing directory.
func checkSuspendPath(file string) error {
	if !filepath.IsAbs(file) || strings.HasSuffix(file, "/") {
		return badOption("file", file, "must be an absolute file path")
	}
	if fi, err := os.Stat(filepath.Dir(file)); err != nil || !fi.IsDir() {
		return badOption("file", file, "its directory must exist")
	}
	return nil
}

// Suspend saves the guest's state to file and ends the guest. See
// suspendMeta for the format. Stats: Total and Downtime are the time the
// guest was stopped until the file was complete; Bytes is the file size.
func (d *Driver) Suspend(ctx context.Context, id int64, file string) (vmm.MigrationStats, error) {
	var stats vmm.MigrationStats
	if err := checkSuspendPath(file); err != nil {
		return stats, fmt.Errorf("suspend instance %d: %w", id, err)
	}
	g, err := d.mustGuest(id)
	if err != nil {
		return stats, err
	}
	err = g.op(func() error {
		stats, err = g.suspend(ctx, file)
		return err
	})
	if err != nil {
		return stats, fmt.Errorf("suspend instance %d to %s: %w", id, file, err)
	}
	d.endAfterMigration(ctx, g, "suspended")
	return stats, nil
}

func (g *guest) suspend(ctx context.Context, file string) (vmm.MigrationStats, error) {
	var stats vmm.MigrationStats
	prev := g.getState()
	if prev != vmm.StateRunning && prev != vmm.StatePaused {
		return stats, fmt.Errorf("%w: it is %s", ErrBadState, prev)
	}
	mon, err := g.monitor()
	if err != nil {
		return stats, err
	}
	bw := g.d.cfg.SuspendBandwidth
	if err := mon.MigrateSetParameters(ctx, qmp.MigrationParameters{MaxBandwidth: &bw}); err != nil {
		return stats, err
	}
	sf, err := newStreamFile(file)
	if err != nil {
		return stats, err
	}
	fail := func(err error) (vmm.MigrationStats, error) {
		sf.abort()
		return stats, g.restoreAfterFailure(ctx, mon, prev, err)
	}
	start := time.Now()
	if prev == vmm.StateRunning {
		if err := mon.Stop(ctx); err != nil {
			return fail(err)
		}
	}
	g.setState(vmm.StateMigrating)
	if err := migrateToFD(ctx, mon, sf.w); err != nil {
		return fail(err)
	}
	mi, err := g.waitMigration(ctx, mon, true)
	if err != nil {
		return fail(err)
	}
	res, err := sf.wait(ctx)
	if err != nil {
		return fail(err)
	}
	meta := suspendMeta{Version: 1, InstanceID: g.id, Paused: prev == vmm.StatePaused, SuspendedAt: time.Now().UTC(),
		QEMU: mon.Version().String(), Accel: g.st.Accel, Machine: g.machine(), MemoryMiB: g.st.Spec.MemoryMiB,
		Cores: g.st.Spec.Cores, TotalMs: mi.TotalTime, StreamBytes: res.streamBytes, FileBytes: res.fileBytes,
		GzipMembers: res.members}
	if err := sf.publish(meta); err != nil {
		return fail(err)
	}
	stats = vmm.MigrationStats{Total: time.Since(start), Bytes: res.fileBytes}
	stats.Downtime = stats.Total
	g.log.Info("guest suspended", "file", file, "took", stats.Total, "file_bytes", res.fileBytes,
		"stream_bytes", res.streamBytes, "qemu_total_ms", mi.TotalTime)
	return stats, nil
}

// restoreAfterFailure puts a guest whose suspend failed back as it was.
func (g *guest) restoreAfterFailure(ctx context.Context, mon *qmp.Monitor, prev vmm.State, err error) error {
	if prev == vmm.StateRunning {
		if cerr := mon.Cont(context.WithoutCancel(ctx)); cerr != nil {
			err = fmt.Errorf("%w (and cont failed: %v)", err, cerr)
		}
	}
	g.setState(prev)
	return err
}

// migrateToFD hands QEMU the write end of the pipe and starts the
// migration into it. Our copy of w is closed: EOF comes when QEMU is done.
func migrateToFD(ctx context.Context, mon *qmp.Monitor, w *os.File) error {
	err := mon.GetFD(ctx, suspendFD, w)
	w.Close()
	if err != nil {
		return err
	}
	if err := mon.Migrate(ctx, "fd:"+suspendFD); err != nil {
		mon.CloseFD(context.WithoutCancel(ctx), suspendFD)
		return err
	}
	return nil
}

// streamFile writes a migration stream arriving on a pipe to FILE.part;
// publish renames it to FILE after writing the sidecar FILE.json, so
// FILE exists only complete and with its sidecar.
type streamFile struct {
	file, part string
	r, w       *os.File
	written    chan writeResult
}

func newStreamFile(file string) (*streamFile, error) {
	sf := &streamFile{file: file, part: file + ".part", written: make(chan writeResult, 1)}
	out, err := os.OpenFile(sf.part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	if sf.r, sf.w, err = pipe(); err != nil {
		out.Close()
		os.Remove(sf.part)
		return nil, err
	}
	go func() { sf.written <- writeStream(out, sf.r, strings.HasSuffix(file, ".gz")) }()
	return sf, nil
}

// wait waits until the stream ended (QEMU closed its end) and was written.
func (sf *streamFile) wait(ctx context.Context) (writeResult, error) {
	select {
	case res := <-sf.written:
		sf.written <- res // for abort
		if res.err != nil {
			return res, fmt.Errorf("write %s: %w", sf.part, res.err)
		}
		return res, nil
	case <-ctx.Done():
		return writeResult{}, ctx.Err()
	}
}

func (sf *streamFile) publish(meta suspendMeta) error {
	if err := writeJSONAtomic(sf.file+".json", meta); err != nil {
		return fmt.Errorf("write %s.json: %w", sf.file, err)
	}
	if err := os.Rename(sf.part, sf.file); err != nil {
		os.Remove(sf.file + ".json")
		return err
	}
	return nil
}

// abort stops the writer and removes the partial file.
func (sf *streamFile) abort() {
	sf.w.Close()
	sf.r.Close()
	<-sf.written
	os.Remove(sf.part)
}

type writeResult struct {
	streamBytes, fileBytes int64
	members                []int64 // gzip member sizes
	err                    error
}

// writeStream copies the migration stream from r into out (gzip members
// compressed in parallel at the fastest level if compress), syncs and
// closes both.
func writeStream(out *os.File, r *os.File, compress bool) writeResult {
	defer r.Close()
	bw := bufio.NewWriterSize(out, 1<<20)
	var res writeResult
	var err error
	if compress {
		res.streamBytes, res.members, err = gzipParallel(bw, r, gzip.BestSpeed, runtime.GOMAXPROCS(0))
	} else {
		res.streamBytes, err = io.Copy(bw, r)
	}
	err = errors.Join(err, bw.Flush(), out.Sync())
	fi, serr := out.Stat()
	res.err = errors.Join(err, out.Close())
	if serr == nil {
		res.fileBytes = fi.Size()
	}
	return res
}

// pipe returns a pipe with a 1 MiB buffer (fewer wake-ups than 64 KiB).
func pipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err == nil {
		syscall.Syscall(syscall.SYS_FCNTL, w.Fd(), fSetPipeSz, pipeSize) // best effort
	}
	return r, w, err
}

// Resume loads a guest started with Incoming "defer" from file (see
// suspendMeta) and continues it unless it was paused when suspended.
// Stats: Total is the load time; Bytes the file size.
func (d *Driver) Resume(ctx context.Context, id int64, file string) (vmm.MigrationStats, error) {
	var stats vmm.MigrationStats
	if err := checkSuspendPath(file); err != nil {
		return stats, fmt.Errorf("resume instance %d: %w", id, err)
	}
	g, err := d.mustGuest(id)
	if err != nil {
		return stats, err
	}
	err = g.op(func() error {
		stats, err = g.resume(ctx, file)
		return err
	})
	if err != nil {
		return stats, fmt.Errorf("resume instance %d from %s: %w", id, file, err)
	}
	return stats, nil
}

func (g *guest) resume(ctx context.Context, file string) (vmm.MigrationStats, error) {
	var stats vmm.MigrationStats
	if s := g.getState(); s != vmm.StateIncoming {
		return stats, fmt.Errorf("%w: it is %s, not started with Incoming \"defer\"", ErrBadState, s)
	}
	mon, err := g.monitor()
	if err != nil {
		return stats, err
	}
	src, err := openSuspendFile(file, g.st.Spec.MemoryMiB)
	if err != nil {
		return stats, err
	}
	defer src.f.Close()
	start := time.Now()
	if err := g.loadFromFD(ctx, mon, src.feed); err != nil {
		return stats, err
	}
	st, err := mon.QueryStatus(ctx)
	if err != nil {
		return stats, err
	}
	paused := src.haveMeta && src.meta.Paused
	if !src.haveMeta {
		g.log.Warn("no sidecar for the suspend file; continuing the guest", "file", file+".json")
	}
	if !paused && !st.Running {
		if err := mon.Cont(ctx); err != nil {
			return stats, err
		}
	}
	if paused {
		g.setState(vmm.StatePaused)
	} else {
		g.setState(vmm.StateRunning)
	}
	stats = vmm.MigrationStats{Total: time.Since(start), Bytes: src.size}
	g.log.Info("guest resumed", "file", file, "took", stats.Total, "paused", paused)
	return stats, nil
}

// suspendSource is an open suspend file and how to read its stream.
type suspendSource struct {
	f        *os.File
	size     int64
	meta     suspendMeta
	haveMeta bool
	feed     func(io.Writer) error
}

// openSuspendFile opens file and its sidecar, refusing a file made from
// a guest of another memory size.
func openSuspendFile(file string, memoryMiB int) (*suspendSource, error) {
	meta, haveMeta, err := readSuspendMeta(file)
	if err != nil {
		return nil, err
	}
	if haveMeta && meta.MemoryMiB != 0 && meta.MemoryMiB != memoryMiB {
		return nil, fmt.Errorf("the file holds a guest of %d MiB, this one has %d MiB", meta.MemoryMiB, memoryMiB)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		src := &suspendSource{f: f, size: fi.Size(), meta: meta, haveMeta: haveMeta}
		src.feed, err = streamReader(f, fi.Size(), strings.HasSuffix(file, ".gz"), meta.GzipMembers)
		if err == nil {
			return src, nil
		}
	}
	f.Close()
	return nil, fmt.Errorf("read %s: %w", file, err)
}

// loadFromFD hands QEMU the read end of a pipe fed by feed and waits for
// the incoming migration to complete.
func (g *guest) loadFromFD(ctx context.Context, mon *qmp.Monitor, feed func(io.Writer) error) error {
	r, w, err := pipe()
	if err != nil {
		return err
	}
	var copyErr error
	copyDone := make(chan struct{})
	go func() {
		copyErr = feed(w)
		w.Close()
		close(copyDone)
	}()
	defer func() { w.Close(); <-copyDone }() // unblocks the feed if QEMU stopped reading
	err = mon.GetFD(ctx, resumeFD, r)
	r.Close()
	if err != nil {
		return err
	}
	if err := mon.MigrateIncoming(ctx, "fd:"+resumeFD); err != nil {
		mon.CloseFD(context.WithoutCancel(ctx), resumeFD)
		return err
	}
	if _, err := g.waitMigration(ctx, mon, false); err != nil {
		w.Close()
		<-copyDone
		if copyErr != nil {
			err = fmt.Errorf("%w (reading the file: %v)", err, copyErr)
		}
		return err
	}
	return nil
}

// streamReader returns a function that writes the migration stream held
// in f to w: as it is, gunzipped member by member in parallel when the
// sidecar lists the members (and they add up to the file), or through a
// plain gzip reader otherwise.
func streamReader(f *os.File, size int64, gz bool, members []int64) (func(io.Writer) error, error) {
	src := bufio.NewReaderSize(f, 1<<20)
	if !gz {
		return func(w io.Writer) error { _, err := io.Copy(w, src); return err }, nil
	}
	var sum int64
	for _, m := range members {
		sum += m
	}
	if len(members) > 0 && sum == size {
		return func(w io.Writer) error {
			_, err := gunzipParallel(w, src, members, runtime.GOMAXPROCS(0))
			return err
		}, nil
	}
	zr, err := gzip.NewReader(src)
	if err != nil {
		return nil, err
	}
	return func(w io.Writer) error { _, err := io.Copy(w, zr); return err }, nil
}

func readSuspendMeta(file string) (suspendMeta, bool, error) {
	var m suspendMeta
	b, err := os.ReadFile(file + ".json")
	if errors.Is(err, os.ErrNotExist) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, false, fmt.Errorf("parse %s.json: %w", file, err)
	}
	return m, true, nil
}
