package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// shutdownTimeout bounds how long Close waits for open TCP connections.
const shutdownTimeout = 5 * time.Second

// Server answers DNS queries over UDP and TCP from the Zone last Set. One
// Server may listen on several addresses (one per bridge gateway, say);
// they all answer from the same Zone. Before the first Set it answers
// SERVFAIL. A closed Server cannot be started again.
type Server struct {
	logger *slog.Logger
	zone   atomic.Pointer[Zone]

	mu      sync.Mutex
	closed  bool
	servers []*mdns.Server
}

// NewServer returns a Server answering from z (which may be nil). A nil
// logger discards.
func NewServer(z *Zone, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{logger: logger}
	s.Set(z)
	return s
}

// Set makes z the answer set for every query received from now on.
func (s *Server) Set(z *Zone) { s.zone.Store(z) }

// Zone returns the current answer set.
func (s *Server) Zone() *Zone { return s.zone.Load() }

// Start binds UDP and TCP on addr ("10.88.0.1:53"; port 0 picks a port
// free for both) and serves them until Close. It returns the bound address
// once both sockets are open, so queries sent after it returns are
// answered.
func (s *Server) Start(addr string) (string, error) {
	pc, l, err := listenPair(addr)
	if err != nil {
		return "", fmt.Errorf("listen for dns on %s: %w", addr, err)
	}
	bound := pc.LocalAddr().String()
	if err := s.Serve(pc, l); err != nil {
		return "", fmt.Errorf("serve dns on %s: %w", bound, err)
	}
	s.logger.Info("dns server listening", "addr", bound)
	return bound, nil
}

// Serve answers on sockets the caller opened: a datagram socket, a stream
// listener, or both (either may be nil). The Server owns them from now on
// and closes them on Close. It returns once they are being served.
func (s *Server) Serve(pc net.PacketConn, l net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		closeAll(pc, l)
		return ErrServerClosed
	}
	if pc != nil {
		srv := &mdns.Server{PacketConn: pc, UDPSize: mdns.DefaultMsgSize, Handler: transport{s, true}, MsgAcceptFunc: accept}
		if err := s.run(srv, pc.LocalAddr()); err != nil {
			closeAll(nil, l)
			return err
		}
	}
	if l != nil {
		srv := &mdns.Server{Listener: l, Handler: transport{s, false}, MsgAcceptFunc: accept}
		if err := s.run(srv, l.Addr()); err != nil {
			return err
		}
	}
	return nil
}

// run starts srv and waits until it serves; s.mu is held.
func (s *Server) run(srv *mdns.Server, addr net.Addr) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() {
		err := srv.ActivateAndServe()
		if err != nil {
			s.logger.Error("dns server stopped", "addr", addr.String(), "network", addr.Network(), "error", err)
		}
		failed <- err
	}()
	select {
	case <-started:
		s.servers = append(s.servers, srv)
		return nil
	case err := <-failed:
		return fmt.Errorf("start dns %s server on %s: %w", addr.Network(), addr, err)
	}
}

// Close stops every listener, waiting up to 5 s for open TCP
// connections.
func (s *Server) Close() error {
	s.mu.Lock()
	servers := s.servers
	s.servers, s.closed = nil, true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.ShutdownContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down dns server: %w", err))
		}
	}
	return errors.Join(errs...)
}

// listenPair binds UDP on addr and TCP on the same address and port. With
// port 0 it retries when the UDP port is taken for TCP.
func listenPair(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 1; ; i++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if i >= tries {
			return nil, nil, err
		}
	}
}

func closeAll(pc net.PacketConn, l net.Listener) {
	if pc != nil {
		pc.Close()
	}
	if l != nil {
		l.Close()
	}
}

// accept lets every request reach Zone.Answer, which decides FORMERR and
// NOTIMP itself; responses are dropped so that we never answer an answer.
func accept(h mdns.Header) mdns.MsgAcceptAction {
	const qr = 1 << 15
	if h.Bits&qr != 0 {
		return mdns.MsgIgnore
	}
	return mdns.MsgAccept
}

// transport is the handler of one socket; UDP responses are truncated to
// the client's buffer.
type transport struct {
	s   *Server
	udp bool
}

func (t transport) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	resp := t.s.answer(req)
	if t.udp {
		resp.Truncate(udpLimit(req))
	}
	if err := w.WriteMsg(resp); err != nil {
		t.s.logger.Debug("write dns response", "remote", w.RemoteAddr().String(), "error", err)
	}
}

func (s *Server) answer(req *mdns.Msg) *mdns.Msg {
	z := s.zone.Load()
	if z == nil {
		resp := new(mdns.Msg)
		resp.SetRcode(req, mdns.RcodeServerFailure)
		return resp
	}
	return z.Answer(req)
}

// udpLimit is the largest UDP response the client accepts, capped at
// maxUDPPayload: 512 bytes without EDNS.
func udpLimit(req *mdns.Msg) int {
	opt := req.IsEdns0()
	if opt == nil {
		return mdns.MinMsgSize
	}
	return max(mdns.MinMsgSize, min(int(opt.UDPSize()), maxUDPPayload))
}
