package qmp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultEventBuffer is how many undelivered events a monitor keeps.
const DefaultEventBuffer = 256

// Event is one asynchronous QMP event.
type Event struct {
	Name string          // e.g. SHUTDOWN, STOP, RESUME, MIGRATION
	Data json.RawMessage // the event's "data" member, may be nil
	Time time.Time       // QEMU's timestamp
}

// Version is QEMU's version from the greeting.
type Version struct {
	Major, Minor, Micro int
	Package             string
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
}

// Option configures a Monitor.
type Option func(*Monitor)

// WithTranscript writes every message sent and received to w, one line
// each ("-> " for commands, "<- " for replies and events), for debug mode.
func WithTranscript(w io.Writer) Option { return func(m *Monitor) { m.transcript = w } }

// WithEventBuffer sets how many undelivered events are kept (default
// DefaultEventBuffer); on overflow the oldest is dropped and counted.
func WithEventBuffer(n int) Option {
	return func(m *Monitor) {
		if n > 0 {
			m.evBuf = n
		}
	}
}

// Monitor is one QMP connection. All methods are safe for concurrent use.
type Monitor struct {
	conn       *net.UnixConn
	version    Version
	transcript io.Writer
	evBuf      int

	tmu     sync.Mutex // transcript writes
	wmu     sync.Mutex // command writes
	mu      sync.Mutex // pending, err
	pending map[uint64]chan reply
	err     error // why the monitor stopped

	nextID    atomic.Uint64
	dropped   atomic.Uint64
	unmatched atomic.Uint64
	events    chan Event
	done      chan struct{} // closed when the reader stops
	closeOnce sync.Once
}

type reply struct {
	Return json.RawMessage
	Error  *Error
}

// message is any message QEMU sends.
type message struct {
	QMP       json.RawMessage  `json:"QMP"`
	ID        *json.RawMessage `json:"id"`
	Return    json.RawMessage  `json:"return"`
	Error     *Error           `json:"error"`
	Event     string           `json:"event"`
	Data      json.RawMessage  `json:"data"`
	Timestamp struct {
		Seconds      int64 `json:"seconds"`
		Microseconds int64 `json:"microseconds"`
	} `json:"timestamp"`
}

type request struct {
	Execute   string `json:"execute"`
	Arguments any    `json:"arguments,omitempty"`
	ID        uint64 `json:"id"`
}

// Dial connects to the QMP socket at path, reads the greeting and leaves
// negotiation mode (qmp_capabilities). ctx bounds the whole handshake.
func Dial(ctx context.Context, path string, opts ...Option) (*Monitor, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial qmp %s: %w", path, err)
	}
	m, err := handshake(ctx, c.(*net.UnixConn), opts...)
	if err != nil {
		return nil, fmt.Errorf("qmp on %s: %w", path, err)
	}
	return m, nil
}

// handshake reads the greeting on c, starts the reader and negotiates
// capabilities. It closes c on failure.
func handshake(ctx context.Context, c *net.UnixConn, opts ...Option) (*Monitor, error) {
	m := &Monitor{conn: c, evBuf: DefaultEventBuffer, pending: map[uint64]chan reply{}, done: make(chan struct{})}
	for _, o := range opts {
		o(m)
	}
	m.events = make(chan Event, m.evBuf)
	dec := json.NewDecoder(m.conn) // no size limit: large replies are fine
	if err := m.greet(ctx, dec); err != nil {
		m.conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	go m.readLoop(dec)
	if err := m.Run(ctx, "qmp_capabilities", nil, nil); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Monitor) greet(ctx context.Context, dec *json.Decoder) error {
	stop := context.AfterFunc(ctx, func() { m.conn.SetReadDeadline(time.Now()) })
	defer stop()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	m.trace("<-", raw)
	var g struct {
		QMP *struct {
			Version struct {
				QEMU struct {
					Major int `json:"major"`
					Minor int `json:"minor"`
					Micro int `json:"micro"`
				} `json:"qemu"`
				Package string `json:"package"`
			} `json:"version"`
		} `json:"QMP"`
	}
	if err := json.Unmarshal(raw, &g); err != nil || g.QMP == nil {
		return fmt.Errorf("not a QMP greeting: %.100s", raw)
	}
	q := g.QMP.Version
	m.version = Version{Major: q.QEMU.Major, Minor: q.QEMU.Minor, Micro: q.QEMU.Micro, Package: q.Package}
	if !stop() {
		return ctx.Err() // the deadline fired: do not leave it set
	}
	return m.conn.SetReadDeadline(time.Time{})
}

// Version is QEMU's version as the greeting announced it.
func (m *Monitor) Version() Version { return m.version }

// Events delivers events in order. It is closed when the monitor stops.
// Nobody has to read it: see Dropped.
func (m *Monitor) Events() <-chan Event { return m.events }

// Dropped counts events discarded because the buffer was full.
func (m *Monitor) Dropped() uint64 { return m.dropped.Load() }

// Unmatched counts replies that matched no waiting command (late
// replies to cancelled commands, errors without an id).
func (m *Monitor) Unmatched() uint64 { return m.unmatched.Load() }

// Done is closed when the connection is gone; Err then says why.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Err is why the monitor stopped, or nil while it runs.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Close closes the connection and waits for the reader to stop. Pending
// and later calls fail with ErrClosed. Idempotent.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() { m.conn.Close() })
	<-m.done
	return nil
}

// Run executes cmd with args (nil for none) and decodes the "return"
// member into resp (nil to ignore it). A QMP error reply is returned as
// *Error. ctx bounds the wait; a reply arriving after ctx ends is dropped.
func (m *Monitor) Run(ctx context.Context, cmd string, args, resp any) error {
	return m.run(ctx, cmd, args, resp, nil)
}

// RunWithFile is Run with f's descriptor passed alongside the command
// (SCM_RIGHTS), as getfd and add-fd expect.
func (m *Monitor) RunWithFile(ctx context.Context, cmd string, args, resp any, f *os.File) error {
	if f == nil {
		return fmt.Errorf("qmp %s: no file to pass", cmd)
	}
	return m.run(ctx, cmd, args, resp, f)
}

func (m *Monitor) run(ctx context.Context, cmd string, args, resp any, f *os.File) error {
	id := m.nextID.Add(1)
	b, err := json.Marshal(request{Execute: cmd, Arguments: args, ID: id})
	if err != nil {
		return fmt.Errorf("qmp %s: encode arguments: %w", cmd, err)
	}
	ch := make(chan reply, 1)
	m.mu.Lock()
	if m.err != nil {
		err := m.err
		m.mu.Unlock()
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	m.pending[id] = ch
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.pending, id)
		m.mu.Unlock()
	}()
	if err := m.write(ctx, b, f); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			e := *r.Error
			e.Command = cmd
			return &e
		}
		if resp != nil && len(r.Return) > 0 {
			if err := json.Unmarshal(r.Return, resp); err != nil {
				return fmt.Errorf("qmp %s: decode reply: %w", cmd, err)
			}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("qmp %s: %w", cmd, ctx.Err())
	case <-m.done:
		return fmt.Errorf("qmp %s: %w", cmd, m.Err())
	}
}

// write sends one command line. A failed or partial write breaks the
// stream, so it closes the monitor.
func (m *Monitor) write(ctx context.Context, b []byte, f *os.File) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	dl, _ := ctx.Deadline() // zero: no deadline
	m.conn.SetWriteDeadline(dl)
	// A cancelled ctx interrupts a blocked write; wait for that callback
	// before the next writer sets its own deadline.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		m.conn.SetWriteDeadline(time.Now())
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired
		}
	}()
	m.trace("->", b)
	b = append(b, '\n')
	var err error
	if f != nil {
		_, _, err = m.conn.WriteMsgUnix(b, syscall.UnixRights(int(f.Fd())), nil)
		runtime.KeepAlive(f)
	} else {
		_, err = m.conn.Write(b)
	}
	if err != nil {
		m.closeOnce.Do(func() { m.conn.Close() })
		return fmt.Errorf("%w: write: %v", ErrClosed, err)
	}
	return nil
}

func (m *Monitor) readLoop(dec *json.Decoder) {
	var err error
	for {
		var raw json.RawMessage
		if err = dec.Decode(&raw); err != nil {
			break
		}
		m.trace("<-", raw)
		var msg message
		if err = json.Unmarshal(raw, &msg); err != nil {
			break
		}
		switch {
		case msg.Event != "":
			t := time.Unix(msg.Timestamp.Seconds, msg.Timestamp.Microseconds*1000)
			m.pushEvent(Event{Name: msg.Event, Data: msg.Data, Time: t})
		case msg.ID != nil:
			m.deliver(*msg.ID, reply{Return: msg.Return, Error: msg.Error})
		default:
			m.unmatched.Add(1) // e.g. an error about unparseable input
		}
	}
	m.stop(err)
}

func (m *Monitor) deliver(rawID json.RawMessage, r reply) {
	var id uint64
	if json.Unmarshal(rawID, &id) != nil {
		m.unmatched.Add(1)
		return
	}
	m.mu.Lock()
	ch, ok := m.pending[id]
	m.mu.Unlock()
	if !ok {
		m.unmatched.Add(1) // its caller gave up
		return
	}
	ch <- r // buffered, one reply per id
}

// pushEvent never blocks: when the buffer is full the oldest event goes.
// The reader is the only sender, so the loop ends.
func (m *Monitor) pushEvent(ev Event) {
	for {
		select {
		case m.events <- ev:
			return
		default:
		}
		select {
		case <-m.events:
			m.dropped.Add(1)
		default:
		}
	}
}

func (m *Monitor) stop(cause error) {
	m.closeOnce.Do(func() { m.conn.Close() })
	if cause == nil || errors.Is(cause, io.EOF) || errors.Is(cause, net.ErrClosed) {
		cause = ErrClosed
	} else {
		cause = fmt.Errorf("%w: %v", ErrClosed, cause)
	}
	m.mu.Lock()
	m.err = cause
	m.mu.Unlock()
	m.trace("!!", []byte(cause.Error()))
	close(m.done)
	close(m.events)
}

func (m *Monitor) trace(dir string, b []byte) {
	if m.transcript == nil {
		return
	}
	m.tmu.Lock()
	defer m.tmu.Unlock()
	fmt.Fprintf(m.transcript, "%s %s %s\n", time.Now().UTC().Format("15:04:05.000000"), dir, b)
}
