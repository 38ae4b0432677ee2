package ganglia

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/tashi-go/tashi/plugins/telemetry"
)

// Defaults for Config.
const (
	DefaultPort     = "8649" // gmond's tcp_accept_channel
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 64 << 20
)

// Config says where gmond is and how to read it.
type Config struct {
	Addr     string        // host or host:port; port defaults to DefaultPort
	Timeout  time.Duration // for connect and read together; 0: DefaultTimeout
	MaxBytes int64         // largest XML accepted; 0: DefaultMaxBytes
	Match    Match
	Log      *slog.Logger // skipped hosts are logged at debug; nil: none
}

// Sensor reads one gmond or gmetad.
type Sensor struct {
	cfg Config
}

var _ telemetry.Sensor = (*Sensor)(nil)

// New checks cfg and fills its defaults.
func New(cfg Config) (*Sensor, error) {
	if cfg.Addr == "" {
		return nil, fmt.Errorf("ganglia sensor: empty address")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		cfg.Addr = net.JoinHostPort(cfg.Addr, DefaultPort)
	}
	if cfg.Timeout < 0 || cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("ganglia sensor: negative timeout or maxBytes")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Sensor{cfg: cfg}, nil
}

// Read fetches the XML and converts it to stats by Tashi host name.
func (s *Sensor) Read(ctx context.Context) (map[string]telemetry.HostStats, error) {
	hosts, err := s.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	stats, skipped := Convert(hosts, s.cfg.Match)
	for _, sk := range skipped {
		s.cfg.Log.Debug("ganglia host skipped", "ganglia_host", sk.Host, "reason", sk.Reason, "addr", s.cfg.Addr)
	}
	return stats, nil
}

// Fetch connects to gmond, reads its XML until the document ends and
// parses it, within the timeout and the size limit.
func (s *Sensor) Fetch(ctx context.Context) ([]Host, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect to ganglia at %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()
	// The read ends when ctx does (timeout or cancel), so the error can say
	// which.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	hosts, err := Parse(&limitReader{r: conn, left: s.cfg.MaxBytes})
	if err != nil {
		if cerr := context.Cause(ctx); cerr != nil {
			return nil, fmt.Errorf("read ganglia at %s: %w: %w", s.cfg.Addr, cerr, err)
		}
		return nil, fmt.Errorf("read ganglia at %s: %w", s.cfg.Addr, err)
	}
	return hosts, nil
}

// limitReader fails with ErrTooLarge, every time, once more than left
// bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	return n, err
}
