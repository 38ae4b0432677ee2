package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Real DHCP clients (busybox udhcpc, ISC dhclient) against the server in
// namespaces. The client scripts only record what they are given.

// recordScript is the client script; %s is its directory (dhclient runs
// scripts with an environment of its own, so it cannot come from there).
const recordScript = `#!/bin/sh
# $1 is the udhcpc event; dhclient passes $reason instead.
out='%s'
ev="${1:-$reason}"
echo "$ev" >> "$out/events"
env | sort > "$out/env.$ev"
exit 0
`

type clientRun struct {
	dir    string
	output string
	err    error
}

// events lists the script calls in order.
func (r clientRun) events() []string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "events"))
	return strings.Fields(string(b))
}

// env returns the environment the script saw at event ev.
func (r clientRun) env(ev string) map[string]string {
	b, err := os.ReadFile(filepath.Join(r.dir, "env."+ev))
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
			m[k] = v
		}
	}
	return m
}

// staleLease is a dhclient lease file entry that makes it start in
// INIT-REBOOT asking for ip.
func staleLease(ifname string, ip net.IP) string {
	return fmt.Sprintf(`lease {
  interface "%s";
  fixed-address %s;
  option subnet-mask 255.255.255.0;
  renew 4 2037/12/31 00:00:00;
  rebind 4 2037/12/31 00:00:00;
  expire 4 2037/12/31 00:00:00;
}
`, ifname, ip)
}

func writeScript(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "record.sh")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(recordScript, dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// udhcpc runs busybox udhcpc once in ns and waits for it to exit.
func udhcpc(t *testing.T, ns, ifname string, tries string, extra ...string) clientRun {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"netns", "exec", ns, "busybox", "udhcpc", "-i", ifname,
		"-n", "-q", "-f", "-t", tries, "-T", "1", "-s", writeScript(t, dir)}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	out, err := cmd.CombinedOutput()
	return clientRun{dir: dir, output: string(out), err: err}
}

const dhclientConf = `timeout 20;
request subnet-mask, broadcast-address, routers, domain-name,
	domain-name-servers, host-name, interface-mtu;
`

// dhclient runs ISC dhclient in the foreground in ns until its script
// sees a lease (or it gives up), then kills it. leases, if not empty,
// seeds its lease file.
func dhclient(t *testing.T, ns, ifname, leases string) clientRun {
	t.Helper()
	dir := t.TempDir()
	conf, lf := filepath.Join(dir, "dhclient.conf"), filepath.Join(dir, "leases")
	for p, text := range map[string]string{conf: dhclientConf, lf: leases} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	cmd := exec.Command("ip", "netns", "exec", ns, "dhclient", "-d", "-1", "-v",
		"-cf", conf, "-lf", lf, "-pf", filepath.Join(dir, "pid"), "-sf", writeScript(t, dir), ifname)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}) // closed when dhclient has exited
	go func() { cmd.Wait(); close(done) }()
	r := clientRun{dir: dir}
	r.err = waitBound(r, done, 30*time.Second)
	// "ip netns exec" execs dhclient, so this is dhclient's pid; it may
	// have exited already.
	cmd.Process.Kill()
	<-done
	r.output = out.String()
	return r
}

// waitBound waits until the script saw BOUND or REBOOT, the client exited,
// or the timeout passed.
func waitBound(r clientRun, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, ev := range r.events() {
			if ev == "BOUND" || ev == "REBOOT" {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("dhclient exited without a lease")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("no lease after %s", timeout)
}

func checkEnv(t *testing.T, env map[string]string, want map[string]string) {
	t.Helper()
	if env == nil {
		t.Fatal("client script never saw a lease")
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

func TestRealClients(t *testing.T) {
	needRoot(t, "busybox", "dhclient")
	var table Table
	n := newTestNet(t, &table)
	lease := testLease()
	if err := table.Set(lease); err != nil {
		t.Fatal(err)
	}

	t.Run("udhcpc gets the lease", func(t *testing.T) {
		ns, ifname := n.addClient(t, knownMAC)
		r := udhcpc(t, ns, ifname, "5")
		if r.err != nil {
			t.Fatalf("udhcpc: %v\n%s", r.err, r.output)
		}
		checkEnv(t, r.env("bound"), map[string]string{
			"ip": "10.0.0.5", "subnet": "255.255.255.0", "router": "10.0.0.1",
			"dns": "10.0.0.53 10.0.0.54", "domain": "cluster.test", "hostname": "vm-42",
			"mtu": "1450", "lease": "7200", "serverid": "10.0.0.1", "broadcast": "10.0.0.255",
		})
	})

	t.Run("unknown mac gets nothing", func(t *testing.T) {
		ns, ifname := n.addClient(t, unknownMAC)
		before := n.srv.Stats()[ReasonUnknownMAC]
		r := udhcpc(t, ns, ifname, "2")
		var exit *exec.ExitError
		if !errors.As(r.err, &exit) {
			t.Fatalf("udhcpc: err = %v, want a non-zero exit\n%s", r.err, r.output)
		}
		if ev := r.events(); strings.Contains(strings.Join(ev, " "), "bound") {
			t.Errorf("unknown mac was bound: events %v", ev)
		}
		if got := n.srv.Stats()[ReasonUnknownMAC]; got <= before {
			t.Errorf("server never saw the unknown mac's discovers (count %d -> %d)", before, got)
		}
	})

	// udhcpc has no INIT-REBOOT: -r only puts the address in its DISCOVER,
	// which gets an OFFER of the lease, not a NAK (dhclient below does).
	t.Run("udhcpc asking for a wrong address", func(t *testing.T) {
		ns, ifname := n.addClient(t, knownMAC)
		mark := n.mark()
		r := udhcpc(t, ns, ifname, "5", "-r", wrongIP.String())
		if r.err != nil {
			t.Fatalf("udhcpc: %v\n%s", r.err, r.output)
		}
		asked := false
		for _, p := range n.received(mark, knownMAC) {
			asked = asked || p.RequestedIPAddress().Equal(wrongIP)
		}
		if !asked {
			t.Errorf("udhcpc never asked for %s", wrongIP)
		}
		checkEnv(t, r.env("bound"), map[string]string{"ip": "10.0.0.5"})
	})

	t.Run("dhclient gets the lease", func(t *testing.T) {
		ns, ifname := n.addClient(t, knownMAC)
		r := dhclient(t, ns, ifname, "")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.output)
		}
		checkEnv(t, r.env("BOUND"), map[string]string{
			"new_ip_address": "10.0.0.5", "new_subnet_mask": "255.255.255.0",
			"new_routers": "10.0.0.1", "new_domain_name_servers": "10.0.0.53 10.0.0.54",
			"new_domain_name": "cluster.test", "new_host_name": "vm-42",
			"new_interface_mtu": "1450", "new_dhcp_lease_time": "7200",
			"new_dhcp_server_identifier": "10.0.0.1",
		})
	})

	t.Run("dhclient rebooting with a wrong address gets a nak then the lease", func(t *testing.T) {
		ns, ifname := n.addClient(t, knownMAC)
		before := n.srv.Stats()[ReasonNak]
		r := dhclient(t, ns, ifname, staleLease(ifname, wrongIP))
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.output)
		}
		if !strings.Contains(r.output, "DHCPREQUEST for "+wrongIP.String()) ||
			!strings.Contains(r.output, "DHCPNAK from") {
			t.Errorf("dhclient did not ask for %s and get a NAK:\n%s", wrongIP, r.output)
		}
		if got := n.srv.Stats()[ReasonNak]; got != before+1 {
			t.Errorf("server NAK count %d -> %d, want one more", before, got)
		}
		checkEnv(t, r.env("BOUND"), map[string]string{"new_ip_address": "10.0.0.5"})
	})
}
