package nodemanager_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/tashi-go/tashi/agents"
	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
	"github.com/tashi-go/tashi/images"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/nodemanager"
	"github.com/tashi-go/tashi/nodemanager/qemu"
)

func TestMain(m *testing.M) { cmtest.Main(m) }

// cluster is a real CM, node managers with the QEMU back end, and an agent,
// all in this process; guests are real QEMU processes (TCG here).
type cluster struct {
	t       *testing.T
	cm      *cmtest.Cluster
	user    *api.Client
	nmTok   string
	agTok   string
	prefix  string // image store
	pkiDir  string
	subnet  string // 10.251.N
	brPfx   string
	tapPfx  string
	nms     map[string]*nmProc
	firstNM string // the one that serves DHCP and DNS on the shared bridges
	stopAgt context.CancelFunc
	agtDone chan struct{}

	// Knobs, set by newCluster options (or between startNM calls):
	// qemuCfg is the base driver config of node managers started from now
	// on (RunDir is always the NM's own; StartTimeout defaults to a
	// minute); logSink, if set, receives log lines instead of t.Log;
	// netName names the bridge network newCluster adds ("" = "default",
	// the CM's default network, which VMs without NICs are put on).
	qemuCfg qemu.Config
	logSink func(who, line string)
	netName string
	nmTweak func(*nodemanager.Config) // changes node managers started from now on
}

type nmProc struct {
	name   string
	runDir string
	drv    *qemu.Driver
	cancel context.CancelFunc
	done   chan error
}

// randByte is a random number 0..255, for test subnets.
func randByte() int {
	var b [1]byte
	_, _ = rand.Read(b[:])
	return int(b[0])
}

func short() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newCluster starts a CM, the tiny image, a bridge network and an agent;
// opts set the cluster's knobs before anything starts.
func newCluster(t *testing.T, opts ...func(*cluster)) *cluster {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed; run scripts/setup.sh")
	}
	ctx := context.Background()
	c := &cluster{t: t, cm: cmtest.New(t), nms: map[string]*nmProc{}, brPfx: "tb" + short() + "b", tapPfx: "t" + short()[:3]}
	for _, o := range opts {
		o(c)
	}
	var err error
	if c.prefix, err = os.MkdirTemp("", "vfs"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(c.prefix) })
	if _, err := images.EnsureTiny(ctx, c.prefix); err != nil {
		t.Fatalf("build the tiny guest: %v", err)
	}
	c.cm.Image(t, images.TinyImage)
	c.pkiDir = t.TempDir()
	c.subnet = fmt.Sprintf("10.251.%d", 1+randByte()%250)
	if _, err := c.cm.Admin.AddNetwork(ctx, api.Network{Name: cmp.Or(c.netName, "default"), Kind: "bridge",
		CIDR: c.subnet + ".0/24", Gateway: c.subnet + ".1", Default: c.netName == ""}); err != nil {
		t.Fatal(err)
	}
	c.user = c.cm.User(t, "user", api.RoleUser, api.AddUserRequest{})
	c.nmTok = c.cm.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{}).Token
	c.agTok = c.cm.User(t, "agent", api.RoleAgent, api.AddUserRequest{}).Token
	t.Cleanup(c.cleanup)
	c.startAgent()
	return c
}

func (c *cluster) logger(who string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLog{c.t, who, c.logSink}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testLog struct {
	t    *testing.T
	who  string
	sink func(who, line string)
}

func (w testLog) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	if w.sink != nil {
		w.sink(w.who, line)
		return len(p), nil
	}
	w.t.Log(w.who + ": " + line)
	return len(p), nil
}

func (c *cluster) client(tok string) *api.Client {
	cl := api.NewClient(c.cm.URL, tok)
	cl.RetryFor = 5 * time.Second
	return cl
}

func (c *cluster) startAgent() {
	cert, key, err := pki.Ensure(c.pkiDir, "agent", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	tlsCfg, err := pki.ClientConfig(c.pkiDir, cert, key)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := agents.New(agents.Config{Name: "agent", CM: c.client(c.agTok), NMTLS: tlsCfg,
		Wait: 2 * time.Second, Logger: c.logger("agent")})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.stopAgt, c.agtDone = cancel, make(chan struct{})
	go func() { _ = a.Run(ctx); close(c.agtDone) }()
}

// startNM starts (or restarts, on the same run dir) the node manager of host.
func (c *cluster) startNM(host string) *nmProc {
	c.t.Helper()
	p := c.nms[host]
	if p == nil {
		dir, err := os.MkdirTemp("/tmp", "nm")
		if err != nil {
			c.t.Fatal(err)
		}
		p = &nmProc{name: host, runDir: dir}
		c.nms[host] = p
		if c.firstNM == "" {
			c.firstNM = host
		}
		if _, err := c.cm.Admin.AddHost(context.Background(), api.AddHostRequest{Name: host}); err != nil {
			c.t.Fatal(err)
		}
	}
	qc := c.qemuCfg
	qc.RunDir = p.runDir
	if qc.StartTimeout <= 0 {
		qc.StartTimeout = time.Minute
	}
	drv, err := qemu.New(qc, c.logger(host+"/qemu"))
	if err != nil {
		c.t.Fatal(err)
	}
	cert, key, _ := pki.Ensure(c.pkiDir, "nm-"+host, nil)
	tlsCfg, err := pki.ServerConfig(c.pkiDir, cert, key)
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := nodemanager.Config{HostName: host, Listen: "127.0.0.1:0", CM: c.client(c.nmTok),
		TLS: tlsCfg, VMM: drv, Images: images.Store{Prefix: c.prefix}, BridgePrefix: c.brPfx,
		TapPrefix:         c.tapPfx + host[len(host)-1:] + "t", // two NMs on one machine need their own taps
		RegisterFrequency: time.Second, ShutdownTimeout: 3 * time.Second, Logger: c.logger(host)}
	if host != c.firstNM {
		// Node managers of this harness share one network namespace, so
		// they share each network's bridge, as hosts on one segment would;
		// the first one serves DHCP and DNS on it, the others do not (two
		// would split the DHCP socket and collide on port 53).
		cfg.Network.NoDHCP, cfg.Network.NoDNS = true, true
	}
	if c.nmTweak != nil {
		c.nmTweak(&cfg)
	}
	nm, err := nodemanager.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	p.drv, p.cancel, p.done = drv, cancel, make(chan error, 1)
	go func() { p.done <- nm.Run(ctx, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-p.done:
		c.t.Fatalf("node manager %s: %v", host, err)
	}
	return p
}

// stopNM stops a node manager; its guests keep running.
func (c *cluster) stopNM(host string) {
	p := c.nms[host]
	if p.cancel == nil {
		return // it never started
	}
	p.cancel()
	<-p.done
	_ = p.drv.Close()
}

// cleanup stops the agent and node managers, kills every guest the test
// started (by the back ends' own records) and removes bridges and taps.
func (c *cluster) cleanup() {
	c.stopAgt()
	<-c.agtDone
	ctx := context.Background()
	for host, p := range c.nms {
		c.stopNM(host)
		drv, err := qemu.New(qemu.Config{RunDir: p.runDir}, c.logger(host+"/cleanup"))
		if err == nil {
			guests, _ := drv.Recover(ctx)
			for _, g := range guests {
				_ = drv.Destroy(ctx, g.InstanceID)
			}
			_ = drv.Close()
		}
		killLeftovers(p.runDir)
		os.RemoveAll(p.runDir)
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		name := l.Attrs().Name
		if strings.HasPrefix(name, c.tapPfx) || strings.HasPrefix(name, c.brPfx) {
			_ = netlink.LinkDel(l)
		}
	}
}

// waitState waits until the record shows the instance in want (or gone,
// for Exited).
func (c *cluster) waitState(ref string, want api.InstanceState, limit time.Duration) api.Instance {
	c.t.Helper()
	var in api.Instance
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		in, err = c.user.Instance(context.Background(), ref)
		if want == api.Exited && api.IsCode(err, api.CodeNotFound) {
			return in
		}
		if err == nil && in.State == want {
			return in
		}
		if err == nil && in.Error != "" && (in.State == api.Running || in.State == api.Held) && want != in.State {
			c.t.Fatalf("%s is %s after a failure: %s", ref, in.State, in.Error)
		}
	}
	c.t.Fatalf("%s: waited %s for %s; last %s %v (error %q)", ref, limit, want, in.State, err, in.Error)
	return in
}

// serialReady waits for the guest's readiness line in its serial log.
func (c *cluster) serialReady(host string, id int64, limit time.Duration) string {
	c.t.Helper()
	info, err := c.nms[host].drv.Info(context.Background(), id)
	if err != nil {
		c.t.Fatal(err)
	}
	return readyLine(c.t, info.SerialLog, limit)
}

// readyLine waits for the guest's "GUEST-READY <address>" line in its
// serial log and returns the address.
func readyLine(t *testing.T, path string, limit time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if i := strings.Index(string(b), "GUEST-READY"); i >= 0 {
			return strings.Fields(string(b[i:]))[1]
		}
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("no GUEST-READY in %s after %s:\n%s", path, limit, b)
	return ""
}

// kv talks to the guest's CGI that keeps a value in guest RAM.
func kv(ip, set string) (string, error) {
	url := "http://" + ip + "/cgi-bin/kv"
	if set != "" {
		url += "?set=" + set
	}
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// killLeftovers kills, by the PIDs in its own state files, any QEMU of this
// run dir that is still alive (a guest the back end could not recover).
func killLeftovers(runDir string) {
	files, _ := filepath.Glob(filepath.Join(runDir, "*", "state.json"))
	for _, f := range files {
		var st struct {
			PID int `json:"pid"`
		}
		b, _ := os.ReadFile(f)
		if json.Unmarshal(b, &st) != nil || st.PID < 2 {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.PID))
		if strings.Contains(string(cmd), runDir) {
			_ = syscall.Kill(st.PID, syscall.SIGKILL)
		}
	}
}
