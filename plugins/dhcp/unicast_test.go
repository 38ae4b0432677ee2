package dhcp

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestRebindingAckIsUnicast: a bound client (address configured) that
// broadcasts a REBINDING request gets its ACK unicast to ciaddr:68, from a
// server whose bridge has no address. The client socket is bound to the
// leased address, so it cannot receive a broadcast answer.
func TestRebindingAckIsUnicast(t *testing.T) {
	needRoot(t)
	var table Table
	if err := table.Set(testLease()); err != nil {
		t.Fatal(err)
	}
	n := newTestNet(t, &table)
	ns, ifname := n.addClient(t, knownMAC)
	sh(t, "ip", "-n", ns, "addr", "add", "10.0.0.5/24", "dev", ifname)

	var conn *net.UDPConn
	if err := inNS(ns, func() (err error) { conn, err = listenBroadcast(leasedIP); return err }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := request(dhcpv4.MessageTypeRequest, dhcpv4.WithClientIP(leasedIP), dhcpv4.WithBroadcast(false))
	ack, from, err := exchange(conn, req, &net.UDPAddr{IP: net.IPv4bcast, Port: 67})
	if err != nil {
		t.Fatalf("rebinding: %v (server stats %v)", err, n.srv.Stats())
	}
	if ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(leasedIP) {
		t.Errorf("got %s for %s, want ACK for %s", ack.MessageType(), ack.YourIPAddr, leasedIP)
	}
	t.Logf("ACK came from %s", from)
}

// listenBroadcast opens a UDP socket on ip:68 that may send broadcasts.
func listenBroadcast(ip net.IP) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_BROADCAST, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", net.JoinHostPort(ip.String(), "68"))
	if err != nil {
		return nil, fmt.Errorf("listen on %s:68: %w", ip, err)
	}
	return pc.(*net.UDPConn), nil
}

// exchange sends req to dst and returns the first reply with req's xid.
func exchange(conn *net.UDPConn, req *dhcpv4.DHCPv4, dst *net.UDPAddr) (*dhcpv4.DHCPv4, net.Addr, error) {
	if _, err := conn.WriteTo(req.ToBytes(), dst); err != nil {
		return nil, nil, fmt.Errorf("send %s: %w", req.MessageType(), err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return nil, nil, err
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			return nil, nil, fmt.Errorf("wait for reply to %s: %w", req.MessageType(), err)
		}
		if r, err := dhcpv4.FromBytes(buf[:n]); err == nil && r.TransactionID == req.TransactionID {
			return r, from, nil
		}
	}
}
