package dhcp

import (
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

const benchTarget = 5 * time.Millisecond // p99 of a full exchange

// TestBenchDHCP times full DISCOVER->OFFER->REQUEST->ACK exchanges of a Go
// client in its own namespace (a UDP socket on port 68 bound to its
// unaddressed veth; nclient4 would need go.mod changes) against the server
// on a bridge in another. Each sample is the client-visible wall time from
// sending the DISCOVER to reading the ACK. Run with TASHI_BENCH=1.
func TestBenchDHCP(t *testing.T) {
	if os.Getenv("TASHI_BENCH") != "1" {
		t.Skip("set TASHI_BENCH=1 to run the DHCP exchange benchmark")
	}
	needRoot(t)
	var table Table
	if err := table.Set(testLease()); err != nil {
		t.Fatal(err)
	}
	n := newTestNet(t, &table)
	ns, ifname := n.addClient(t, knownMAC)
	var c *net.UDPConn
	err := inNS(ns, func() (err error) {
		c, err = server4.NewIPv4UDPConn(ifname, &net.UDPAddr{Port: dhcpv4.ClientPort})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	load := loadAvg()
	for range 20 { // warm up
		exchangeOnce(t, c)
	}
	const N = 2000
	offer, ack, total := make([]time.Duration, N), make([]time.Duration, N), make([]time.Duration, N)
	for i := range N {
		offer[i], ack[i], total[i] = exchangeOnce(t, c)
	}
	report(t, N, offer, ack, total, load)
}

// exchangeOnce does one full exchange and returns the time to the OFFER,
// from the REQUEST to the ACK, and from the DISCOVER to the ACK.
func exchangeOnce(t *testing.T, c *net.UDPConn) (toOffer, toAck, total time.Duration) {
	server := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	discover, err := dhcpv4.NewDiscovery(knownMAC)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	offer, _, err := exchange(c, discover, server)
	t1 := time.Now()
	if err != nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("discover: got %v, %v; want an offer", offer, err)
	}
	request, err := dhcpv4.NewRequestFromOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	ack, _, err := exchange(c, request, server)
	t3 := time.Now()
	if err != nil || ack.MessageType() != dhcpv4.MessageTypeAck || !ack.YourIPAddr.Equal(leasedIP) {
		t.Fatalf("request: got %v, %v; want an ack for %s", ack, err, leasedIP)
	}
	return t1.Sub(t0), t3.Sub(t2), t3.Sub(t0)
}

func report(t *testing.T, n int, offer, ack, total []time.Duration, loadBefore string) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nDHCP exchanges: Go client in a client netns -> veth -> bridge (no address) -> server, %d CPUs, load avg before %s, after %s\n\n",
		runtime.NumCPU(), loadBefore, loadAvg())
	fmt.Fprintln(&b, "| measure | exchanges | p50 | p90 | p99 | max | target |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|")
	rows := []struct {
		name   string
		d      []time.Duration
		target string
	}{
		{"DISCOVER->OFFER", offer, ""},
		{"REQUEST->ACK", ack, ""},
		{"full exchange DISCOVER->ACK", total, verdict(total)},
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", r.name, n,
			pct(r.d, 0.50), pct(r.d, 0.90), pct(r.d, 0.99), pct(r.d, 1), r.target)
	}
	t.Log(b.String())
}

func verdict(total []time.Duration) string {
	if p99 := percentile(total, 0.99); p99 < benchTarget {
		return fmt.Sprintf("p99 < %s: met", benchTarget)
	}
	return fmt.Sprintf("p99 < %s: NOT met", benchTarget)
}

func percentile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func pct(d []time.Duration, q float64) string {
	return fmt.Sprintf("%.3f ms", float64(percentile(d, q))/float64(time.Millisecond))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
