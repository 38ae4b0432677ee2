package dns

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// testKey returns a fresh TSIG key made by tsig-keygen and read back with
// ReadKeyFile, or one made in Go if tsig-keygen is missing.
func testKey(t *testing.T, dir, name string) Key {
	t.Helper()
	path := filepath.Join(dir, name+".key")
	if kg, err := exec.LookPath("tsig-keygen"); err == nil {
		out, err := exec.Command(kg, "-a", "hmac-sha256", name).Output()
		if err != nil {
			t.Fatalf("tsig-keygen: %v", err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := ReadKeyFile(path)
		if err != nil {
			t.Fatalf("ReadKeyFile of tsig-keygen output: %v", err)
		}
		return k
	}
	return Key{Name: name, Algorithm: "hmac-sha256", Secret: randomSecret(t)}
}

func randomSecret(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// lockedBuffer collects named's output from its two streams.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const namedConf = `include "%[1]s/%[3]s.key";
options {
	directory "%[1]s";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
};
controls { };
zone "cluster.test" { type primary; file "cluster.test.zone"; allow-update { key "%[3]s"; }; };
zone "0.88.10.in-addr.arpa" { type primary; file "rev.zone"; allow-update { key "%[3]s"; }; };
`

const zoneFile = `$TTL 60
@ IN SOA ns.cluster.test. hostmaster.cluster.test. 1 3600 600 86400 60
@ IN NS ns.cluster.test.
`

// startNamed runs BIND in the foreground in a temp dir, primary for
// cluster.test. and 0.88.10.in-addr.arpa. with updates allowed for key,
// and returns its address once it answers. It is stopped by PID at the end
// of the test.
func startNamed(t *testing.T, key Key) string {
	t.Helper()
	named, err := exec.LookPath("named")
	if err != nil {
		t.Skip("named not installed (Debian package bind9)")
	}
	dir := t.TempDir()
	writeNamedFiles(t, dir, key)
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		addr, err := runNamed(t, named, dir, key, port)
		if err == nil {
			return addr
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("named on port %d: %v; trying another port", port, err)
	}
}

func writeNamedFiles(t *testing.T, dir string, key Key) {
	t.Helper()
	files := map[string]string{
		key.Name + ".key":   fmt.Sprintf("key %q {\n\talgorithm %s;\n\tsecret %q;\n};\n", key.Name, key.Algorithm, key.Secret),
		"cluster.test.zone": zoneFile + "ns 60 IN A 127.0.0.1\n",
		"rev.zone":          zoneFile,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// runNamed starts named on port and waits until it answers; on failure
// it has already stopped it.
func runNamed(t *testing.T, named, dir string, key Key, port int) (string, error) {
	conf := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, namedConf, dir, port, key.Name), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &lockedBuffer{}
	cmd := exec.Command(named, "-g", "-c", conf, "-n", "1")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	if err := waitAnswers(addr, exited); err != nil {
		stop()
		return "", fmt.Errorf("%w\nnamed output:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("named output:\n%s", out.String())
		}
	})
	return addr, nil
}

// waitAnswers polls addr for cluster.test.'s SOA for up to 10 s.
func waitAnswers(addr string, exited <-chan struct{}) error {
	c := &mdns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("named exited before answering")
		default:
		}
		r, _, err := c.Exchange(query("cluster.test.", mdns.TypeSOA), addr)
		if err == nil && r.Rcode == mdns.RcodeSuccess && r.Authoritative {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("named did not answer on %s within 10 s", addr)
}

// freePort returns a port that was free for both UDP and TCP on
// 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", l.Addr().String())
		l.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port for both UDP and TCP")
	return 0
}

// digAnswers returns "type value" for each answer dig gets for args, and
// dig's status.
func digAnswers(t *testing.T, server string, args ...string) (string, []string) {
	t.Helper()
	r := dig(t, server, args...)
	var out []string
	for _, f := range r.Answer {
		out = append(out, strings.Join(f[3:], " "))
	}
	return r.Status, out
}
