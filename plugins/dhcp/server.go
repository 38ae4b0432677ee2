package dhcp

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Server answers DHCPv4 on one interface (a bridge) from a Table.
type Server struct {
	conn     net.PacketConn
	serverID net.IP
	table    *Table
	log      *slog.Logger
	closed   atomic.Bool

	mu    sync.Mutex
	stats map[string]uint64
}

// Listen opens the server socket: UDP 0.0.0.0:67 with SO_BROADCAST and
// SO_BINDTODEVICE ifname (and SO_REUSEPORT, so open one per interface:
// two would share its packets). The interface needs no IPv4 address. The
// socket belongs to the network namespace of the calling thread.
func Listen(ifname string) (net.PacketConn, error) {
	conn, err := server4.NewIPv4UDPConn(ifname, &net.UDPAddr{Port: dhcpv4.ServerPort})
	if err != nil {
		return nil, fmt.Errorf("listen for dhcp on %s: %w", ifname, err)
	}
	return conn, nil
}

// New listens on ifname (see Listen) and returns a server for it.
// serverID is the address sent as server identifier (option 54); log nil
// discards logs.
func New(ifname string, serverID net.IP, table *Table, log *slog.Logger) (*Server, error) {
	if !isUnicast4(serverID) {
		return nil, fmt.Errorf("start dhcp server on %s with id %v: %w", ifname, serverID, ErrBadServerID)
	}
	if table == nil {
		return nil, fmt.Errorf("start dhcp server on %s: no lease table", ifname)
	}
	conn, err := Listen(ifname)
	if err != nil {
		return nil, err
	}
	return NewWithConn(conn, serverID, table, orDiscard(log).With("iface", ifname))
}

// NewWithConn returns a server that reads and answers on conn (e.g. from
// Listen called inside another network namespace). The server owns conn.
func NewWithConn(conn net.PacketConn, serverID net.IP, table *Table, log *slog.Logger) (*Server, error) {
	if !isUnicast4(serverID) {
		return nil, fmt.Errorf("start dhcp server with id %v: %w", serverID, ErrBadServerID)
	}
	if table == nil {
		return nil, fmt.Errorf("start dhcp server: no lease table")
	}
	return &Server{conn: conn, serverID: slices.Clone(serverID.To4()), table: table,
		log: orDiscard(log), stats: map[string]uint64{}}, nil
}

func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// Serve answers requests until ctx is cancelled or Close is called, then
// returns nil; it returns an error only when reading fails otherwise.
// Packets are handled one at a time; call Serve once.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	buf := make([]byte, 1<<16)
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			if s.closed.Load() {
				return nil
			}
			return fmt.Errorf("read dhcp request: %w", err)
		}
		s.handle(buf[:n])
	}
}

// Close stops Serve and closes the socket.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("close dhcp server socket: %w", err)
	}
	return nil
}

// Stats returns how many packets got each Reason* so far.
func (s *Server) Stats() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.stats)
}

func (s *Server) count(reason string) {
	s.mu.Lock()
	s.stats[reason]++
	s.mu.Unlock()
}

// handle decides and sends the answer to one packet.
func (s *Server) handle(b []byte) {
	req, err := dhcpv4.FromBytes(b)
	if err != nil {
		s.count(ReasonMalformed)
		s.log.Debug("drop malformed dhcp packet", "bytes", len(b), "err", err)
		return
	}
	reply, reason := Reply(req, s.serverID, s.table.Lookup)
	s.count(reason)
	s.logDecision(req, reply, reason)
	if reply == nil {
		return
	}
	dst := Destination(req, reply)
	if _, err := s.conn.WriteTo(reply.ToBytes(), dst); err != nil {
		s.count(ReasonSendFailed)
		s.log.Warn("send dhcp reply", "mac", req.ClientHWAddr.String(),
			"msg_type", reply.MessageType().String(), "to", dst.String(), "err", err)
	}
}

func (s *Server) logDecision(req, reply *dhcpv4.DHCPv4, reason string) {
	attrs := []any{"mac", req.ClientHWAddr.String(), "xid", req.TransactionID.String(),
		"msg_type", req.MessageType().String(), "reason", reason}
	switch {
	case reason == ReasonDecline:
		s.log.Warn("guest declined its address: address conflict on the segment",
			append(attrs, "ip", req.RequestedIPAddress().String())...)
	case reason == ReasonBadLease || reason == ReasonNak:
		s.log.Info("dhcp request refused", attrs...)
	case reply != nil:
		s.log.Debug("dhcp reply", append(attrs, "ip", reply.YourIPAddr.String())...)
	default:
		s.log.Debug("dhcp request ignored", attrs...)
	}
}
