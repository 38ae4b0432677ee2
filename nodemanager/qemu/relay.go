package qemu

import (
	"io"
	"net"
	"strconv"
	"sync"
)

// relay forwards TCP clients to a guest's unix socket (VNC or serial
// console). It lives in the node manager: it ends with it, and the guest
// keeps its socket.
type relay struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

// listenRelay listens on host at the first free port of ports (or any
// port if ports is empty) and forwards each client to target.
func listenRelay(host, target string, ports []int) (*relay, error) {
	var ln net.Listener
	var err error
	for _, p := range append(ports, 0) {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *relay) Addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go r.pipe(c)
	}
}

func (r *relay) pipe(c net.Conn) {
	defer r.wg.Done()
	defer c.Close()
	u, err := net.Dial("unix", r.target)
	if err != nil {
		return
	}
	defer u.Close()
	if !r.track(c, true) {
		return
	}
	defer r.track(c, false)
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done // either side ending ends both
	c.Close()
	u.Close()
	<-done
}

func (r *relay) track(c net.Conn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if add {
		if r.closed {
			return false
		}
		r.conns[c] = true
	} else {
		delete(r.conns, c)
	}
	return true
}

// Close stops listening and disconnects the clients.
func (r *relay) Close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
