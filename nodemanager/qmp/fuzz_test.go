package qmp

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// socketPair returns two connected unix stream sockets.
func socketPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "qmp-pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// Whatever QEMU sends after the handshake, the monitor neither panics
// nor hangs: a command gets a reply, an error or its ctx error.
func FuzzMonitorStream(f *testing.F) {
	f.Add([]byte(`{"id": 2, "return": {"status": "running", "running": true}}`))
	f.Add([]byte(`{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}{"id":2,"error":{"class":"GenericError","desc":"x"}}`))
	f.Add([]byte(`{"id": "2", "return": 1}{"id": 2, "return": []}`))
	f.Add([]byte(`{"id": 2, "return"`))
	f.Add([]byte(`[1,2,3]{"QMP": {}}`))
	f.Fuzz(func(t *testing.T, stream []byte) {
		a, b := socketPair(t)
		go func() {
			b.Write([]byte(`{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}}}` + "\n"))
			buf := make([]byte, 4096)
			b.Read(buf) // qmp_capabilities
			b.Write([]byte(`{"id": 1, "return": {}}` + "\n"))
			b.Read(buf) // the command
			b.Write(stream)
			b.Close() // QEMU went away: the command must end now
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		m, err := handshake(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var st struct{ Status string }
		err = m.Run(ctx, "query-status", nil, &st)
		if ctx.Err() != nil {
			t.Fatalf("command hung: %v", err)
		}
	})
}
