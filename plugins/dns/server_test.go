package dns

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// startServer serves z on a free 127.0.0.1 port until the test ends.
func startServer(t testing.TB, z *Zone) string {
	t.Helper()
	s := NewServer(z, nil)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return addr
}

func exchange(t *testing.T, net, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: net, Timeout: 3 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange with %s: %v", net, addr, err)
	}
	return r
}

// exchangeRaw is exchange that also returns the response's wire bytes.
func exchangeRaw(t *testing.T, net, addr string, m *mdns.Msg) (*mdns.Msg, []byte) {
	t.Helper()
	c := &mdns.Client{Net: net, Timeout: 3 * time.Second}
	co, err := c.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	co.UDPSize = 65535
	co.SetDeadline(time.Now().Add(3 * time.Second))
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	wire, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := new(mdns.Msg)
	if err := r.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	return r, wire
}

// bigZone has one name, many.cluster.test., with n addresses.
func bigZone(t *testing.T, n int) *Zone {
	t.Helper()
	var recs []Record
	for i := range n {
		recs = append(recs, rec("many.cluster.test", fmt.Sprintf("10.88.%d.%d", i/250, 1+i%250)))
	}
	z, err := NewZone(testConfig(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestServerTruncatesUDP(t *testing.T) {
	addr := startServer(t, bigZone(t, 100)) // 100 A records: ~1.6 kB compressed
	tests := []struct {
		name    string
		net     string
		edns    uint16
		tc      bool
		maxSize int
	}{
		{"udp no edns", "udp", 0, true, 512},
		{"udp edns 4096 capped", "udp", 4096, true, maxUDPPayload},
		{"tcp", "tcp", 0, false, 65535},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := query("many.cluster.test.", mdns.TypeA)
			if tt.edns != 0 {
				q.SetEdns0(tt.edns, false)
			}
			r, wire := exchangeRaw(t, tt.net, addr, q)
			if r.Truncated != tt.tc || len(wire) > tt.maxSize {
				t.Errorf("TC %v size %d, want TC %v size <= %d", r.Truncated, len(wire), tt.tc, tt.maxSize)
			}
			if tt.edns != 0 && r.IsEdns0() == nil {
				t.Error("truncated EDNS response lost its OPT")
			}
			if !tt.tc && len(r.Answer) != 100 {
				t.Errorf("%d answers, want 100", len(r.Answer))
			}
		})
	}
}

func TestServerSetSwapsZone(t *testing.T) {
	s := NewServer(nil, nil)
	addr, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := query("vm1.cluster.test.", mdns.TypeA)
	if r := exchange(t, "udp", addr, q); r.Rcode != mdns.RcodeServerFailure {
		t.Errorf("before Set: %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
	}
	s.Set(testZone(t))
	if r := exchange(t, "udp", addr, q); len(r.Answer) != 1 {
		t.Errorf("after Set: %v, want one answer", r)
	}
	z, err := NewZone(testConfig(), []Record{rec("vm1.cluster.test", "10.88.0.99")})
	if err != nil {
		t.Fatal(err)
	}
	s.Set(z)
	r := exchange(t, "tcp", addr, q)
	if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "10.88.0.99" {
		t.Errorf("after second Set: %v, want 10.88.0.99", r.Answer)
	}
}

func TestServerServeOwnSockets(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(testZone(t), nil)
	if err := s.Serve(pc, l); err != nil {
		t.Fatal(err)
	}
	q := query("11.0.88.10.in-addr.arpa.", mdns.TypePTR)
	for _, c := range []struct{ net, addr string }{{"udp", pc.LocalAddr().String()}, {"tcp", l.Addr().String()}} {
		if r := exchange(t, c.net, c.addr, q); len(r.Answer) != 1 {
			t.Errorf("%s: %v, want one PTR", c.net, r)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start("127.0.0.1:0"); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start after Close: %v, want ErrServerClosed", err)
	}
	// The sockets are closed: a new listener can take the TCP port.
	l2, err := net.Listen("tcp", l.Addr().String())
	if err != nil {
		t.Errorf("TCP port still held after Close: %v", err)
	} else {
		l2.Close()
	}
}

func TestServerIgnoresResponses(t *testing.T) {
	addr := startServer(t, testZone(t))
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []*mdns.Msg{asResponse(query("vm1.cluster.test.", mdns.TypeA)), query("vm1.cluster.test.", mdns.TypeA)} {
		wire, _ := m.Pack()
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
	}
	// Exactly one reply comes back, the answer to the query.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var r mdns.Msg
	if err := r.Unpack(buf[:n]); err != nil || r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("reply %v (%v), want the answer to the query", &r, err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		r.Unpack(buf[:n])
		t.Errorf("a second reply came: %v", &r)
	}
}

func TestServerUpdateNotImplemented(t *testing.T) {
	addr := startServer(t, testZone(t))
	r := exchange(t, "udp", addr, update("cluster.test."))
	if r.Rcode != mdns.RcodeNotImplemented {
		t.Errorf("UPDATE: %s, want NOTIMP", mdns.RcodeToString[r.Rcode])
	}
	if r := exchange(t, "udp", addr, query("evil.cluster.test.", mdns.TypeA)); r.Rcode != mdns.RcodeNameError {
		t.Errorf("after UPDATE: %s, want NXDOMAIN", mdns.RcodeToString[r.Rcode])
	}
}
