package ganglia

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs a TCP server on 127.0.0.1 that hands each connection to fn
// and closes it; it stops when the test ends.
func serve(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); fn(c) }()
		}
	}()
	return ln.Addr().String()
}

func newSensor(t *testing.T, c Config) *Sensor {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSensorRead(t *testing.T) {
	xml := readFixture(t, "gmetad.xml")
	addr := serve(t, func(c net.Conn) { _, _ = c.Write(xml) })
	s := newSensor(t, Config{Addr: addr, Match: Match{Map: map[string]string{"10.0.2.3": "h3"}}})
	stats, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 || stats["h3"].CPUs != 2 || stats["node1.example.org"].Load1 != 1.5 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestSensorSizeLimit(t *testing.T) {
	xml := readFixture(t, "gmetad.xml")
	addr := serve(t, func(c net.Conn) { _, _ = c.Write(xml) })
	_, err := newSensor(t, Config{Addr: addr, MaxBytes: int64(len(xml)) / 2}).Fetch(context.Background())
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	if _, err := newSensor(t, Config{Addr: addr, MaxBytes: int64(len(xml))}).Fetch(context.Background()); err != nil {
		t.Errorf("exactly the limit: %v", err)
	}
}

// hang writes the start of a document and then waits for the client to
// give up.
func hang(c net.Conn) {
	_, _ = c.Write([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><GANGLIA_XML><CLUSTER NAME="c">`))
	_, _ = c.Read(make([]byte, 1)) // returns when the client closes
}

func TestSensorTimeout(t *testing.T) {
	addr := serve(t, hang)
	_, err := newSensor(t, Config{Addr: addr, Timeout: 200 * time.Millisecond}).Fetch(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "read ganglia at "+addr) {
		t.Errorf("err = %v, want a read error with DeadlineExceeded", err)
	}
}

func TestSensorCancel(t *testing.T) {
	addr := serve(t, hang)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := newSensor(t, Config{Addr: addr, Timeout: time.Minute}).Fetch(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want Canceled", err)
	}
}

func TestSensorConnectError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = newSensor(t, Config{Addr: addr}).Read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connect to ganglia at "+addr) {
		t.Errorf("err = %v", err)
	}
}
