package qmp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/nodemanager/qmp"
	"github.com/tashi-go/tashi/nodemanager/qmp/qmptest"
)

func dial(t *testing.T, s *qmptest.Server, opts ...qmp.Option) *qmp.Monitor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := qmp.Dial(ctx, s.Path(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestDialHandshake(t *testing.T) {
	s := qmptest.New(t)
	m := dial(t, s)
	if v := m.Version(); v.Major != 7 || v.Minor != 2 || v.String() != "7.2.0" {
		t.Fatalf("version = %+v", v)
	}
	if n := s.Count("qmp_capabilities"); n != 1 {
		t.Fatalf("qmp_capabilities sent %d times", n)
	}
}

// Replies are matched by id even when they come back out of order.
func TestIDMatchingOutOfOrder(t *testing.T) {
	s := qmptest.New(t)
	s.Handle("slow", func(qmptest.Request) qmptest.Reply {
		return qmptest.Reply{Return: "slow-answer", Delay: 150 * time.Millisecond}
	})
	s.Handle("fast", func(r qmptest.Request) qmptest.Reply {
		var a struct{ N int }
		json.Unmarshal(r.Arguments, &a)
		return qmptest.Reply{Return: a.N * 10}
	})
	m := dial(t, s)
	ctx := ctxT(t, 5*time.Second)
	var wg sync.WaitGroup
	var slow string
	var slowErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowErr = m.Run(ctx, "slow", nil, &slow)
	}()
	time.Sleep(20 * time.Millisecond) // slow is sent first
	errs := make(chan error, 20)
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var got int
			if err := m.Run(ctx, "fast", map[string]int{"N": i}, &got); err != nil || got != i*10 {
				errs <- fmt.Errorf("fast %d: got %d, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if slowErr != nil || slow != "slow-answer" {
		t.Fatalf("slow: %q, %v", slow, slowErr)
	}
	ids := map[string]bool{}
	for _, r := range s.Requests() {
		if ids[string(r.ID)] {
			t.Fatalf("id %s used twice", r.ID)
		}
		ids[string(r.ID)] = true
	}
}

func TestEventsInterleavedWithReplies(t *testing.T) {
	s := qmptest.New(t)
	s.Handle("stop", func(qmptest.Request) qmptest.Reply {
		return qmptest.Reply{Before: []qmptest.Event{{Name: "STOP"}},
			After: []qmptest.Event{{Name: "MIGRATION", Data: map[string]string{"status": "setup"}}}}
	})
	m := dial(t, s)
	ctx := ctxT(t, 5*time.Second)
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	s.Emit("RESUME", nil)
	var names []string
	for len(names) < 3 {
		select {
		case ev := <-m.Events():
			names = append(names, ev.Name)
			if ev.Name == "MIGRATION" && !strings.Contains(string(ev.Data), "setup") {
				t.Errorf("MIGRATION data = %s", ev.Data)
			}
			if ev.Time.IsZero() {
				t.Errorf("event %s has no time", ev.Name)
			}
		case <-ctx.Done():
			t.Fatalf("events so far %v", names)
		}
	}
	if strings.Join(names, ",") != "STOP,MIGRATION,RESUME" {
		t.Fatalf("events = %v", names)
	}
}

// A reply far over 64 KiB (query-qmp-schema is ~200 KB) is decoded.
func TestHugeReply(t *testing.T) {
	s := qmptest.New(t)
	var big []qmp.SchemaEntry
	for i := 0; i < 40000; i++ {
		big = append(big, qmp.SchemaEntry{Name: fmt.Sprintf("entity-%06d", i), MetaType: "object"})
	}
	s.Return("query-qmp-schema", big)
	m := dial(t, s)
	got, err := m.QueryQMPSchema(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(big) || got[39999].Name != "entity-039999" {
		t.Fatalf("got %d entries", len(got))
	}
	if _, err := m.QueryStatus(ctxT(t, time.Second)); err == nil || !qmp.IsClass(err, "CommandNotFound") {
		t.Fatalf("monitor after huge reply: %v", err)
	}
}

// A command that outlives its ctx fails with the ctx error; the late
// reply is dropped and the monitor keeps working.
func TestCommandTimeout(t *testing.T) {
	s := qmptest.New(t)
	s.Handle("slow", func(qmptest.Request) qmptest.Reply {
		return qmptest.Reply{Return: 1, Delay: 300 * time.Millisecond}
	})
	s.Return("query-status", qmp.StatusInfo{Running: true, Status: "running"})
	m := dial(t, s)
	start := time.Now()
	err := m.Run(ctxT(t, 50*time.Millisecond), "slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("timeout took %v", d)
	}
	st, err := m.QueryStatus(ctxT(t, time.Second))
	if err != nil || st.Status != "running" {
		t.Fatalf("after timeout: %+v %v", st, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for m.Unmatched() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if m.Unmatched() != 1 {
		t.Fatalf("late reply not seen as unmatched: %d", m.Unmatched())
	}
}

// The server closing the connection mid-command fails that command, and
// later ones, with ErrClosed; Done and Events are closed.
func TestServerClosesMidCommand(t *testing.T) {
	s := qmptest.New(t)
	s.Handle("quit", func(qmptest.Request) qmptest.Reply { return qmptest.Reply{Close: true} })
	s.Handle("hang", func(qmptest.Request) qmptest.Reply {
		return qmptest.Reply{Delay: 100 * time.Millisecond, Close: true}
	})
	m := dial(t, s)
	ctx := ctxT(t, 5*time.Second)
	err := m.Run(ctx, "hang", nil, nil)
	if !errors.Is(err, qmp.ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-m.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed")
	}
	if _, ok := <-m.Events(); ok {
		t.Fatal("events channel still open")
	}
	if err := m.Stop(ctx); !errors.Is(err, qmp.ErrClosed) {
		t.Fatalf("later command: %v", err)
	}
	if !errors.Is(m.Err(), qmp.ErrClosed) {
		t.Fatalf("Err = %v", m.Err())
	}
	m.Close() // idempotent after the server went away
	m.Close()
}

// Quit treats the connection closing before its reply as success.
func TestQuitClosed(t *testing.T) {
	s := qmptest.New(t)
	s.Handle("quit", func(qmptest.Request) qmptest.Reply { return qmptest.Reply{Close: true} })
	m := dial(t, s)
	if err := m.Quit(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// Nobody reads Events: a flood of events must not block commands; the
// oldest are dropped and counted, the newest kept.
func TestFullEventBufferNeverBlocks(t *testing.T) {
	s := qmptest.New(t)
	var flood []qmptest.Event
	for i := 0; i < 1000; i++ {
		flood = append(flood, qmptest.Event{Name: "TICK", Data: map[string]int{"n": i}})
	}
	s.Handle("flood", func(qmptest.Request) qmptest.Reply { return qmptest.Reply{Before: flood} })
	s.Return("query-status", qmp.StatusInfo{Running: true, Status: "running"})
	m := dial(t, s, qmp.WithEventBuffer(4))
	ctx := ctxT(t, 5*time.Second)
	if err := m.Run(ctx, "flood", nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := m.QueryStatus(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := m.Dropped(); d != 996 {
		t.Fatalf("dropped %d, want 996", d)
	}
	for want := 996; want < 1000; want++ {
		ev := <-m.Events()
		var d struct{ N int }
		json.Unmarshal(ev.Data, &d)
		if d.N != want {
			t.Fatalf("kept event %d, want %d", d.N, want)
		}
	}
}

func TestErrorReply(t *testing.T) {
	s := qmptest.New(t)
	s.Fail("cont", "GenericError", "migration is not finished")
	m := dial(t, s)
	err := m.Cont(ctxT(t, time.Second))
	var qe *qmp.Error
	if !errors.As(err, &qe) || qe.Class != "GenericError" || qe.Command != "cont" ||
		qe.Desc != "migration is not finished" {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "cont") || !qmp.IsClass(err, "GenericError") {
		t.Fatalf("message %q", err)
	}
	if err := m.Run(ctxT(t, time.Second), "no-such-command", nil, nil); !qmp.IsClass(err, "CommandNotFound") {
		t.Fatalf("unknown command: %v", err)
	}
}

// GetFD passes a descriptor the server can use.
func TestGetFD(t *testing.T) {
	s := qmptest.New(t)
	m := dial(t, s)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := m.GetFD(ctxT(t, time.Second), "mig", w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f := s.FD("mig")
	if f == nil {
		t.Fatal("server got no fd")
	}
	f.Write([]byte("through the passed fd"))
	f.Close()
	b, _ := io.ReadAll(r)
	if string(b) != "through the passed fd" {
		t.Fatalf("read %q", b)
	}
	if err := m.Run(ctxT(t, time.Second), "getfd", map[string]string{"fdname": "x"}, nil); !qmp.IsClass(err, "GenericError") {
		t.Fatalf("getfd without fd: %v", err)
	}
}

func TestTranscript(t *testing.T) {
	s := qmptest.New(t)
	s.Return("query-status", qmp.StatusInfo{Status: "paused"})
	var buf syncBuffer
	m := dial(t, s, qmp.WithTranscript(&buf))
	m.QueryStatus(ctxT(t, time.Second))
	s.Emit("STOP", nil)
	<-m.Events()
	m.Close()
	out := buf.String()
	for _, want := range []string{`<- {"QMP"`, `-> {"execute":"qmp_capabilities"`, `-> {"execute":"query-status"`,
		`"status":"paused"`, `"event":"STOP"`, "!! "} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

// A peer that accepts but never greets makes Dial fail by its ctx.
func TestDialNoGreeting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second)
		}
	}()
	start := time.Now()
	_, err = qmp.Dial(ctxT(t, 100*time.Millisecond), path)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	if _, err := qmp.Dial(ctxT(t, time.Second), filepath.Join(dir, "missing")); err == nil {
		t.Fatal("dial of a missing socket worked")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
