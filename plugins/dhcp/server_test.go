package dhcp

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// fakeConn is an in-memory net.PacketConn: ReadFrom returns what is put
// in in, WriteTo records what the server sends.
type fakeConn struct {
	in     chan []byte
	closed chan struct{}
	once   sync.Once

	mu   sync.Mutex
	sent []sentPacket
}

type sentPacket struct {
	msg *dhcpv4.DHCPv4
	to  string
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte), closed: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.in:
		return copy(b, p), &net.UDPAddr{IP: net.IPv4zero, Port: 68}, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.sent = append(c.sent, sentPacket{m, addr.String()})
	c.mu.Unlock()
	return len(b), nil
}

func (c *fakeConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.UDPAddr{Port: 67} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c *fakeConn) sentCopy() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentPacket(nil), c.sent...)
}

// startFake serves a table with testLease on a fakeConn.
func startFake(t *testing.T) (*Server, *fakeConn, context.CancelFunc, <-chan error) {
	t.Helper()
	var table Table
	if err := table.Set(testLease()); err != nil {
		t.Fatal(err)
	}
	conn := newFakeConn()
	srv, err := NewWithConn(conn, testServerID, &table, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	return srv, conn, cancel, done
}

func TestServerAnswersAndCounts(t *testing.T) {
	srv, conn, cancel, done := startFake(t)
	defer cancel()
	conn.in <- []byte("not dhcp at all")
	conn.in <- request(dhcpv4.MessageTypeDiscover, dhcpv4.WithHwAddr(unknownMAC)).ToBytes()
	conn.in <- request(dhcpv4.MessageTypeDiscover).ToBytes()
	conn.in <- request(dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(leasedIP), dhcpv4.WithBroadcast(false)).ToBytes()
	conn.in <- request(dhcpv4.MessageTypeDecline, withRequested(leasedIP)).ToBytes()
	srv.Close()
	if err := <-done; err != nil {
		t.Fatalf("serve after close: %v", err)
	}
	sent := conn.sentCopy()
	want := []struct {
		mt dhcpv4.MessageType
		to string
	}{{dhcpv4.MessageTypeOffer, "255.255.255.255:68"}, {dhcpv4.MessageTypeAck, "10.0.0.5:68"}}
	if len(sent) != len(want) {
		t.Fatalf("sent %d packets, want %d: %v", len(sent), len(want), sent)
	}
	for i, w := range want {
		if sent[i].msg.MessageType() != w.mt || sent[i].to != w.to {
			t.Errorf("packet %d: %s to %s, want %s to %s", i, sent[i].msg.MessageType(), sent[i].to, w.mt, w.to)
		}
	}
	stats := srv.Stats()
	for _, r := range []string{ReasonMalformed, ReasonUnknownMAC, ReasonOffer, ReasonAck, ReasonDecline} {
		if stats[r] != 1 {
			t.Errorf("stats[%s] = %d, want 1 (%v)", r, stats[r], stats)
		}
	}
}

func TestServerStopsOnCancel(t *testing.T) {
	_, _, cancel, done := startFake(t)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
}

func TestNewRefusesBadArguments(t *testing.T) {
	var table Table
	if _, err := NewWithConn(newFakeConn(), net.IPv4bcast, &table, nil); !errors.Is(err, ErrBadServerID) {
		t.Errorf("broadcast server id: err = %v, want ErrBadServerID", err)
	}
	if _, err := New("lo", net.ParseIP("fd00::1"), &table, nil); !errors.Is(err, ErrBadServerID) {
		t.Errorf("ipv6 server id: err = %v, want ErrBadServerID", err)
	}
	if _, err := NewWithConn(newFakeConn(), testServerID, nil, nil); err == nil {
		t.Error("nil table accepted")
	}
}
