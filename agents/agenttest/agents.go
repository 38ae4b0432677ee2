package agenttest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tashi-go/tashi/agents"
	"github.com/tashi-go/tashi/internal/pki"
	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/scheduler"
)

// AgentOptions shape an in-process agent; zero fields take the defaults.
type AgentOptions struct {
	ClaimTTL time.Duration // default 3 s
	Wait     time.Duration // longest watch (default 1 s)
	// Policy is the scheduler's site configuration (zero: spread).
	Policy scheduler.Policy
	// Locator, HostMap and DataCacheTTL resolve the hint dfsFiles, and
	// Topology gives the hosts their racks (see agents.Config).
	Locator      datalocation.Locator
	HostMap      datalocation.HostMap
	DataCacheTTL time.Duration
	Topology     *telemetry.Topology
	// Hooks run after a guest starts and after it is destroyed.
	Hooks []agents.Hook
}

// Agent is an agent running in the test process.
type Agent struct {
	Name   string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartAgent starts an in-process agent (agents.New) with a client
// certificate from the cluster's PKI; it is stopped at test cleanup.
func (c *Cluster) StartAgent(name string, o AgentOptions) *Agent {
	c.t.Helper()
	if o.ClaimTTL == 0 {
		o.ClaimTTL = 3 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = time.Second
	}
	cert, key, err := pki.Ensure(c.PKIDir, "agent-"+name, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	tlsCfg, err := pki.ClientConfig(c.PKIDir, cert, key)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := agents.New(agents.Config{Name: name, CM: c.client(c.AgentToken), NMTLS: tlsCfg,
		ClaimTTL: o.ClaimTTL, Wait: o.Wait, Logger: c.logs.logger(name), Policy: o.Policy,
		Locator: o.Locator, HostMap: o.HostMap, DataCacheTTL: o.DataCacheTTL, Topology: o.Topology,
		Hooks: o.Hooks})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ag := &Agent{Name: name, cancel: cancel, done: make(chan struct{})}
	go func() { _ = a.Run(ctx); close(ag.done) }()
	c.t.Cleanup(ag.Stop)
	return ag
}

// Stop cancels the agent and waits for it (claims in flight are handed
// back). Idempotent.
func (a *Agent) Stop() {
	a.cancel()
	<-a.done
}

// BuildAgent builds the tashi-agent binary into a temporary directory of
// t and returns its path (the Go build cache makes repeats cheap).
func BuildAgent(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tashi-agent")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tashi-go/tashi/cmd/tashi-agent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build tashi-agent: %v\n%s", err, out)
	}
	return bin
}

// Process is a tashi-agent subprocess.
type Process struct {
	Name string
	PID  int
	cmd  *exec.Cmd
	done chan struct{}
}

// StartAgentProcess runs the tashi-agent binary bin against the cluster,
// with the given claim TTL, a token file and the cluster's PKI
// directory; its log lines go to the cluster's logs. It is stopped (if
// still running) at test cleanup.
func (c *Cluster) StartAgentProcess(bin, name string, claimTTL time.Duration) *Process {
	c.t.Helper()
	u, err := url.Parse(c.CM.URL)
	if err != nil {
		c.t.Fatal(err)
	}
	dir := c.t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(c.AgentToken+"\n"), 0o600); err != nil {
		c.t.Fatal(err)
	}
	args := []string{
		"--set", "Client.clusterManagerHost=" + u.Hostname(),
		"--set", "Client.clusterManagerPort=" + u.Port(),
		"--set", "Agent.tokenFile=" + tokenFile,
		"--set", "Security.pkiDir=" + c.PKIDir,
		"--set", "Agent.name=" + name,
		"--set", "Agent.claimTtl=" + strconv.FormatFloat(claimTTL.Seconds(), 'f', -1, 64),
	}
	cmd := exec.Command(bin, args...)
	// A clean environment: no ~/.tashi, no TASHI_* overrides from the caller.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = writer{c.logs, name}, writer{c.logs, name}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", bin, err)
	}
	p := &Process{Name: name, PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.t.Cleanup(p.Stop)
	return p
}

// Kill sends SIGKILL to the agent (by its PID) and waits for it to end.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	<-p.done
}

// Stop asks the agent to stop (SIGTERM: it hands its claims back) and
// waits up to 10 s before killing it. Idempotent.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *Process) String() string { return fmt.Sprintf("%s (pid %d)", p.Name, p.PID) }
