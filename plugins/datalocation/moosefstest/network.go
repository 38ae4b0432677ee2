package moosefstest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Host numbers inside the cluster's /24: the master, the chunkservers in
// label order, and the root namespace's end of the veth.
const (
	masterHost = 1
	csHostBase = 11
	rootHost   = 254
)

// network is a namespace with the cluster's addresses and a veth to the root
// namespace.
type network struct {
	ns     string // network namespace name
	link   string // root namespace end of the veth
	subnet byte   // X in 10.213.X.0/24
}

func (n network) addr(host int) string { return fmt.Sprintf("10.213.%d.%d", n.subnet, host) }

// lockPath serialises subnet choice between clusters of all test binaries.
func lockPath() string {
	if fi, err := os.Stat("/run/lock"); err == nil && fi.IsDir() {
		return "/run/lock/tashi-moosefstest.lock"
	}
	return filepath.Join(os.TempDir(), "tashi-moosefstest.lock")
}

// setupNetwork creates the namespace, bridge, veth and addresses for hosts
// (host numbers in the /24). On error it removes what it made.
func setupNetwork(ctx context.Context, id string, hosts []int) (n network, err error) {
	n = network{ns: "mfst-" + id, link: "mfst" + id}
	unlock, err := lockFile(lockPath())
	if err != nil {
		return n, err
	}
	defer unlock()
	if n.subnet, err = freeSubnet(); err != nil {
		return n, err
	}
	if _, err := run(ctx, "ip", "netns", "add", n.ns); err != nil {
		return n, fmt.Errorf("create network namespace %s: %w", n.ns, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.teardown(context.Background()))
		}
	}()
	for _, args := range n.setupCommands(hosts) {
		if _, err := run(ctx, "ip", args...); err != nil {
			return n, fmt.Errorf("set up network for %s: %w", n.ns, err)
		}
	}
	return n, nil
}

// setupCommands are the ip(8) invocations that build the network.
func (n network) setupCommands(hosts []int) [][]string {
	in := func(args ...string) []string { return append([]string{"-n", n.ns}, args...) }
	cmds := [][]string{
		{"link", "add", n.link, "type", "veth", "peer", "name", "v0", "netns", n.ns},
		{"addr", "add", n.addr(rootHost) + "/24", "dev", n.link},
		{"link", "set", n.link, "up"},
		in("link", "set", "lo", "up"),
		in("link", "add", "br0", "type", "bridge"),
		in("link", "set", "v0", "master", "br0"),
	}
	for _, h := range hosts {
		cmds = append(cmds, in("addr", "add", n.addr(h)+"/24", "dev", "br0"))
	}
	return append(cmds, in("link", "set", "br0", "up"), in("link", "set", "v0", "up"))
}

// teardown deletes the veth (both ends) and the namespace; missing ones are
// not errors.
func (n network) teardown(ctx context.Context) error {
	var errs []error
	if _, err := net.InterfaceByName(n.link); err == nil {
		if _, err := run(ctx, "ip", "link", "del", n.link); err != nil {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", n.link, err))
		}
	}
	if _, err := os.Stat(filepath.Join("/run/netns", n.ns)); err == nil {
		if _, err := run(ctx, "ip", "netns", "del", n.ns); err != nil {
			errs = append(errs, fmt.Errorf("delete network namespace %s: %w", n.ns, err))
		}
	}
	return errors.Join(errs...)
}

// freeSubnet picks X so that 10.213.X.0/24 has no address or route in the
// root namespace, starting at a random X.
func freeSubnet() (byte, error) {
	used, err := usedSubnets()
	if err != nil {
		return 0, err
	}
	start := rand.IntN(254) + 1
	for i := range 254 {
		x := byte((start+i-1)%254 + 1)
		if !used[x] {
			return x, nil
		}
	}
	return 0, errors.New("pick a subnet: every 10.213.X.0/24 (X=1..254) is in use")
}

// usedSubnets lists the X of 10.213.X.* addresses and routes in the root
// namespace.
func usedSubnets() (map[byte]bool, error) {
	used := map[byte]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			markUsed(used, p.Addr())
		}
	}
	routes, err := routeDestinations("/proc/net/route")
	if err != nil {
		return nil, err
	}
	for _, d := range routes {
		markUsed(used, d)
	}
	return used, nil
}

func markUsed(used map[byte]bool, a netip.Addr) {
	if b := a.Unmap().As16(); a.Unmap().Is4() && b[12] == 10 && b[13] == 213 {
		used[b[14]] = true
	}
}

// routeDestinations reads the IPv4 route destinations from /proc/net/route
// (hex, host byte order: little-endian on the machines we run on).
func routeDestinations(path string) ([]netip.Addr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] == "Iface" {
			continue
		}
		raw, err := hex.DecodeString(fields[1])
		if err != nil || len(raw) != 4 {
			continue
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.LittleEndian.Uint32(raw))
		out = append(out, netip.AddrFrom4(b))
	}
	return out, sc.Err()
}

// lockFile takes an exclusive flock on path; the returned func releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
