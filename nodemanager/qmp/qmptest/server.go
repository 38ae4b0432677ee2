// Package qmptest is a fake QMP server on a unix socket for unit tests:
// it greets like QEMU 7.2, answers qmp_capabilities, getfd and closefd
// itself, and answers other commands from scripted handlers (with
// delays, events before or after the reply, errors, no reply, or a
// dropped connection). Events can also be pushed at any time with Emit.
// Like QEMU it serves one client at a time.
package qmptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Request is one command the server received.
type Request struct {
	Execute   string          `json:"execute"`
	Arguments json.RawMessage `json:"arguments"`
	ID        json.RawMessage `json:"id"`
}

// Event is an event to send.
type Event struct {
	Name string
	Data any // nil: no data member
}

// Reply scripts the answer to one request.
type Reply struct {
	Return  any           // the "return" member; nil sends {}
	Class   string        // if set, an error reply with Class and Desc
	Desc    string        //
	Delay   time.Duration // wait before answering
	Before  []Event       // events sent before the reply
	After   []Event       // events sent after the reply
	Close   bool          // close the connection instead of replying
	NoReply bool          // never answer
}

// Handler answers a request. It runs on its own goroutine.
type Handler func(req Request) Reply

// Server is the fake. Create it with New.
type Server struct {
	path string
	dir  string
	ln   *net.UnixListener

	mu       sync.Mutex
	handlers map[string]Handler
	reqs     []Request
	fds      map[string]*os.File
	conn     *conn
	connCh   chan struct{} // closed and replaced when a client connects
	wg       sync.WaitGroup
	closed   bool
}

type conn struct {
	c   *net.UnixConn
	wmu sync.Mutex
	rd  *fdReader
}

// New starts a server on a fresh socket and stops it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	dir, err := os.MkdirTemp("", "qmpt")
	if err != nil {
		t.Fatal(err)
	}
	return listen(t, filepath.Join(dir, "qmp.sock"), dir)
}

// NewAt starts a server on the socket path (its directory must exist);
// the socket is removed when the test ends.
func NewAt(t testing.TB, path string) *Server {
	t.Helper()
	return listen(t, path, "")
}

func listen(t testing.TB, path, dir string) *Server {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		t.Fatal(err)
	}
	s := &Server{path: path, dir: dir, ln: ln, handlers: map[string]Handler{},
		fds: map[string]*os.File{}, connCh: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Path is the socket to dial.
func (s *Server) Path() string { return s.path }

// Handle sets the handler for cmd.
func (s *Server) Handle(cmd string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[cmd] = h
}

// Return makes cmd always answer with ret.
func (s *Server) Return(cmd string, ret any) {
	s.Handle(cmd, func(Request) Reply { return Reply{Return: ret} })
}

// Fail makes cmd always answer with an error.
func (s *Server) Fail(cmd, class, desc string) {
	s.Handle(cmd, func(Request) Reply { return Reply{Class: class, Desc: desc} })
}

// Requests returns a copy of every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count says how many times cmd was received.
func (s *Server) Count(cmd string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Execute == cmd {
			n++
		}
	}
	return n
}

// FD takes the descriptor a client passed with getfd under name (nil if
// none). The caller owns it.
func (s *Server) FD(name string) *os.File {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fds[name]
	delete(s.fds, name)
	return f
}

// Connected returns a channel closed once a client is connected.
func (s *Server) Connected() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.connCh
}

// Emit sends an event to the connected client.
func (s *Server) Emit(name string, data any) error {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		return errors.New("qmptest: no client connected")
	}
	return c.send(eventMsg(Event{Name: name, Data: data}))
}

// CloseConn drops the current client, as QEMU exiting would.
func (s *Server) CloseConn() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
}

// Close stops the server and removes its socket.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	c := s.conn
	for _, f := range s.fds {
		f.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	if c != nil {
		c.c.Close()
	}
	s.wg.Wait()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		c := &conn{c: nc, rd: &fdReader{c: nc}}
		s.mu.Lock()
		s.conn = c
		close(s.connCh)
		s.connCh = make(chan struct{})
		s.mu.Unlock()
		s.session(c)
		s.mu.Lock()
		s.conn = nil
		s.mu.Unlock()
		c.rd.closeAll()
	}
}

const greeting = `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "qmptest"}, "capabilities": ["oob"]}}`

func (s *Server) session(c *conn) {
	defer c.c.Close()
	if c.sendRaw([]byte(greeting)) != nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	dec := json.NewDecoder(c.rd)
	for {
		var req Request
		if err := dec.Decode(&req); err != nil {
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		h := s.handlers[req.Execute]
		s.mu.Unlock()
		if r, ok := s.builtin(c, req); ok {
			c.send(replyMsg(req.ID, r))
			continue
		}
		if h == nil {
			h = func(Request) Reply {
				return Reply{Class: "CommandNotFound", Desc: fmt.Sprintf("The command %s has not been found", req.Execute)}
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.answer(req, h(req))
		}()
	}
}

// builtin answers the commands every QEMU has, unless a test overrides them.
func (s *Server) builtin(c *conn, req Request) (Reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.handlers[req.Execute]; ok {
		return Reply{}, false
	}
	var a struct {
		FDName string `json:"fdname"`
	}
	json.Unmarshal(req.Arguments, &a)
	switch req.Execute {
	case "qmp_capabilities":
		return Reply{}, true
	case "getfd":
		f := c.rd.take()
		if f == nil {
			return Reply{Class: "GenericError", Desc: "No file descriptor supplied via SCM_RIGHTS"}, true
		}
		if old := s.fds[a.FDName]; old != nil {
			old.Close()
		}
		s.fds[a.FDName] = f
		return Reply{}, true
	case "closefd":
		f := s.fds[a.FDName]
		if f == nil {
			return Reply{Class: "GenericError", Desc: "File descriptor named '" + a.FDName + "' not found"}, true
		}
		f.Close()
		delete(s.fds, a.FDName)
		return Reply{}, true
	}
	return Reply{}, false
}

func (c *conn) answer(req Request, r Reply) {
	if r.Delay > 0 {
		time.Sleep(r.Delay)
	}
	for _, e := range r.Before {
		c.send(eventMsg(e))
	}
	switch {
	case r.Close:
		c.c.Close()
		return
	case r.NoReply:
	default:
		c.send(replyMsg(req.ID, r))
	}
	for _, e := range r.After {
		c.send(eventMsg(e))
	}
}

func replyMsg(id json.RawMessage, r Reply) map[string]any {
	m := map[string]any{}
	if id != nil {
		m["id"] = id
	}
	if r.Class != "" {
		m["error"] = map[string]string{"class": r.Class, "desc": r.Desc}
	} else if r.Return != nil {
		m["return"] = r.Return
	} else {
		m["return"] = struct{}{}
	}
	return m
}

func eventMsg(e Event) map[string]any {
	now := time.Now()
	m := map[string]any{"event": e.Name,
		"timestamp": map[string]int64{"seconds": now.Unix(), "microseconds": int64(now.Nanosecond() / 1000)}}
	if e.Data != nil {
		m["data"] = e.Data
	}
	return m
}

func (c *conn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.sendRaw(b)
}

func (c *conn) sendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.c.Write(append(b, '\r', '\n'))
	return err
}

// fdReader reads the stream and keeps descriptors passed with it.
type fdReader struct {
	c   *net.UnixConn
	mu  sync.Mutex
	fds []*os.File
}

func (r *fdReader) Read(p []byte) (int, error) {
	oob := make([]byte, syscall.CmsgSpace(16*4))
	n, oobn, _, _, err := r.c.ReadMsgUnix(p, oob)
	if oobn > 0 {
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		for i := range msgs {
			fds, _ := syscall.ParseUnixRights(&msgs[i])
			r.mu.Lock()
			for _, fd := range fds {
				r.fds = append(r.fds, os.NewFile(uintptr(fd), "passed-fd"))
			}
			r.mu.Unlock()
		}
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

// take returns the most recently received descriptor, as QEMU's getfd does.
func (r *fdReader) take() *os.File {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fds) == 0 {
		return nil
	}
	f := r.fds[len(r.fds)-1]
	r.fds = r.fds[:len(r.fds)-1]
	return f
}

func (r *fdReader) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.fds {
		f.Close()
	}
	r.fds = nil
}
