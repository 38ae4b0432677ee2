package clustermanager_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
)

// addNet records a network or fails the test.
func addNet(t *testing.T, c *cmtest.Cluster, n api.Network) api.Network {
	t.Helper()
	got, err := c.Admin.AddNetwork(ctx, n)
	if err != nil {
		t.Fatalf("addNetwork %s: %v", n.Name, err)
	}
	return got
}

// checkLeases asserts the record's address invariants: every NIC of every
// instance has an address, no address is held by two NICs, and the
// leases are exactly the NICs' addresses.
func checkLeases(t *testing.T, c *cmtest.Cluster) int {
	t.Helper()
	var nics, distinct, leases, matched int
	err := c.Store.Pool().QueryRow(ctx, `WITH n AS (
			SELECT i.id, k.ord - 1 AS idx, k.nic->>'ip' AS ip, k.nic->>'network' AS net
			FROM instances i, jsonb_array_elements(i.nics) WITH ORDINALITY k(nic, ord))
		SELECT (SELECT count(*) FROM n), (SELECT count(DISTINCT (net, ip)) FROM n WHERE ip <> ''),
			(SELECT count(*) FROM leases),
			(SELECT count(*) FROM n JOIN leases l ON l.instance_id = n.id AND l.nic_index = n.idx
				AND host(l.address) = n.ip)`).Scan(&nics, &distinct, &leases, &matched)
	if err != nil {
		t.Fatal(err)
	}
	if nics != distinct || nics != leases || nics != matched {
		t.Fatalf("address invariants broken: %d NICs, %d distinct addresses, %d leases, %d NICs matching their lease",
			nics, distinct, leases, matched)
	}
	return nics
}

// TestNoAddressLeasedTwice runs parallel createMany, createVm and destroy
// calls against a small range until it is exhausted and checks, after
// every round, that no address is held twice and every NIC has its lease;
// the answers that were refused must say the range is full.
func TestNoAddressLeasedTwice(t *testing.T) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	addNet(t, c, api.Network{Name: "lab", Kind: "bridge", CIDR: "10.6.0.0/24", Gateway: "10.6.0.1",
		Ranges: []string{"10.6.0.1-10.6.0.30", "10.6.0.100-10.6.0.109"}, Default: true}) // 39 usable: .1 is the gateway
	u := c.User(t, "u", api.RoleUser, api.AddUserRequest{})
	for round := range 4 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		full := 0
		for g := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for k := range 3 {
					var err error
					base := fmt.Sprintf("r%dg%dk%d", round, g, k)
					switch r.IntN(4) {
					case 0:
						_, err = u.CreateVM(ctx, cmtest.Spec(base))
					case 1:
						_, err = u.Act(ctx, fmt.Sprintf("r%dg%dk%d-0", round, (g+1)%12, k), api.EvDestroy)
						if api.IsCode(err, api.CodeNotFound) {
							err = nil
						}
					default:
						_, err = u.CreateMany(ctx, api.ManySpec{Basename: base, Count: 1 + r.IntN(5), Spec: cmtest.Spec("")})
					}
					mu.Lock()
					switch {
					case api.IsCode(err, api.CodeConflict):
						full++
					case err != nil:
						t.Errorf("round %d: %v", round, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		n := checkLeases(t, c)
		t.Logf("round %d: %d NICs hold addresses, %d requests refused for want of addresses", round, n, full)
		if n > 39 {
			t.Fatalf("%d addresses leased from a range of 39", n)
		}
	}
	var gw int
	if err := c.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM leases WHERE address = '10.6.0.1'`).Scan(&gw); err != nil || gw != 0 {
		t.Fatalf("the gateway was leased (%d, %v)", gw, err)
	}
}

// TestFixedAddressesAndRelease: fixed addresses are checked against the
// network and the leases; a refused request changes nothing; destroy
// frees the address for the next instance.
func TestFixedAddressesAndRelease(t *testing.T) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	addNet(t, c, api.Network{Name: "lab", Kind: "bridge", CIDR: "10.7.0.0/29", Gateway: "10.7.0.1", Default: true})
	u := c.User(t, "u", api.RoleUser, api.AddUserRequest{})
	fixed := func(name, ip string) api.InstanceSpec {
		s := cmtest.Spec(name)
		s.NICs = []api.NIC{{Network: "lab", IP: ip}}
		return s
	}
	a, err := u.CreateVM(ctx, cmtest.Spec("a"))
	if err != nil || len(a.NICs) != 1 || a.NICs[0].IP != "10.7.0.2" {
		t.Fatalf("first instance: %+v, %v; want 10.7.0.2 (the first host address after the gateway)", a.NICs, err)
	}
	if _, err := u.CreateVM(ctx, fixed("b", "10.7.0.5")); err != nil {
		t.Fatal(err)
	}
	before := recordCounts(t, c)
	for _, tc := range []struct {
		spec api.InstanceSpec
		code api.Code
	}{
		{fixed("c", "10.7.0.5"), api.CodeDuplicate}, // taken
		{fixed("c", "10.7.1.5"), api.CodeInvalid},   // outside
		{fixed("c", "10.7.0.1"), api.CodeInvalid},   // the gateway
		{fixed("c", "10.7.0.7"), api.CodeInvalid},   // broadcast
		{fixed("c", "10.7.0.0"), api.CodeInvalid},   // network
		{fixed("c", "10.7.0.3x"), api.CodeInvalid},  // not an address
		{fixed("c", "10.7.0.2"), api.CodeDuplicate}, // allocated to a
	} {
		_, err := u.CreateVM(ctx, tc.spec)
		var e *api.Error
		if !api.IsCode(err, tc.code) || !asAPIError(err, &e) || e.Field != "nics" {
			t.Errorf("createVm with %s: %v; want %s naming nics", tc.spec.NICs[0].IP, err, tc.code)
		}
	}
	if _, err := u.CreateMany(ctx, api.ManySpec{Basename: "m", Count: 2, Spec: fixed("", "10.7.0.6")}); !api.IsCode(err, api.CodeInvalid) {
		t.Errorf("createMany with a fixed address: %v", err)
	}
	// .3 .4 .6 are left: 4 do not fit.
	if _, err := u.CreateMany(ctx, api.ManySpec{Basename: "m", Count: 4, Spec: cmtest.Spec("")}); !api.IsCode(err, api.CodeConflict) {
		t.Errorf("createMany over the free addresses: %v", err)
	}
	if after := recordCounts(t, c); after != before {
		t.Fatalf("refused requests changed the record:\n%s\n%s", before, after)
	}
	if _, err := u.Act(ctx, "a", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	g, err := u.CreateMany(ctx, api.ManySpec{Basename: "m", Count: 4, Spec: cmtest.Spec("")})
	if err != nil {
		t.Fatalf("createMany after a destroy freed an address: %v", err)
	}
	got := map[string]bool{}
	for _, in := range g.Instances {
		got[in.NICs[0].IP] = true
	}
	for _, ip := range []string{"10.7.0.2", "10.7.0.3", "10.7.0.4", "10.7.0.6"} {
		if !got[ip] {
			t.Errorf("createMany got %v; want %s among them", got, ip)
		}
	}
	checkLeases(t, c)
}

func TestNetworkValidationAndView(t *testing.T) {
	c := cmtest.New(t)
	before := recordCounts(t, c)
	for _, tc := range []struct {
		n     api.Network
		field string
	}{
		{api.Network{Name: "x", Kind: "vxlan", CIDR: "10.8.0.0/24"}, "segmentId"},
		{api.Network{Name: "x", Kind: "bridge", CIDR: "10.8.0.0/24", Ranges: []string{"10.8.0.10-10.8.0.5"}}, "ranges"},
		{api.Network{Name: "x", Kind: "bridge", CIDR: "10.8.0.0/24", Ranges: []string{"10.8.1.10-10.8.1.20"}}, "ranges"},
		{api.Network{Name: "x", Kind: "bridge", CIDR: "10.8.0.0/24", Ranges: []string{"10.8.0.10-10.8.0.20", "10.8.0.20"}}, "ranges"},
		{api.Network{Name: "x", Kind: "bridge", CIDR: "10.8.0.0/24", Ranges: []string{"10.8.0.0-10.8.0.5"}}, "ranges"},
		{api.Network{Name: "x", Kind: "bridge", CIDR: "10.8.0.0/24", Domain: "bad domain!"}, "domain"},
		{api.Network{Name: "x", Kind: "vlan", SegmentID: 5000, CIDR: "10.8.0.0/24"}, "segmentId"},
	} {
		_, err := c.Admin.AddNetwork(ctx, tc.n)
		var e *api.Error
		if !api.IsCode(err, api.CodeInvalid) || !asAPIError(err, &e) || e.Field != tc.field {
			t.Errorf("addNetwork %+v: %v; want invalid naming %s", tc.n, err, tc.field)
		}
	}
	if after := recordCounts(t, c); after != before {
		t.Fatalf("refused addNetwork changed the record")
	}
	n := addNet(t, c, api.Network{Name: "a", Kind: "vxlan", SegmentID: 42, CIDR: "10.9.0.0/24", Gateway: "10.9.0.1",
		Domain: "a.test", Ranges: []string{"10.9.0.50-10.9.0.59", "10.9.0.7"}})
	if fmt.Sprint(n.Ranges) != "[10.9.0.50-10.9.0.59 10.9.0.7]" {
		t.Errorf("ranges recorded as %v", n.Ranges)
	}
	nets, err := c.Admin.Networks(ctx)
	if err != nil || len(nets) != 1 || fmt.Sprint(nets[0].Ranges) != "[10.9.0.7 10.9.0.50-10.9.0.59]" {
		t.Fatalf("getNetworks: %+v, %v", nets, err)
	}
	nm := c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{})
	c.Image(t, "tiny.qcow2")
	for i, name := range []string{"h1", "h2"} {
		if _, err := c.Admin.AddHost(ctx, api.AddHostRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		_, err := nm.Register(ctx, api.RegisterRequest{Name: name, Version: "dev", Cores: 4, Memory: 4096,
			TunnelAddress: fmt.Sprintf("192.0.2.%d", i+1)})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = nm.Register(ctx, api.RegisterRequest{Name: "h1", Version: "dev", Cores: 4, Memory: 4096, TunnelAddress: "nope"})
	if !api.IsCode(err, api.CodeInvalid) {
		t.Errorf("register with a bad tunnel address: %v", err)
	}
	u := c.User(t, "u", api.RoleUser, api.AddUserRequest{})
	spec := cmtest.Spec("Web1")
	spec.NICs = []api.NIC{{Network: "a"}}
	if _, err := u.CreateVM(ctx, spec); err != nil {
		t.Fatal(err)
	}
	v, err := nm.NMView(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(v.Peers) != "[192.0.2.1 192.0.2.2]" || len(v.Names) != 1 || v.Names[0].FQDN != "web1.a.test." ||
		v.Names[0].IP != "10.9.0.7" || len(v.Networks) != 1 || v.Index == 0 {
		t.Fatalf("view: %+v", v)
	}
}

func asAPIError(err error, e **api.Error) bool {
	x, ok := err.(*api.Error)
	if ok {
		*e = x
	}
	return ok
}

// A crowded network: with every address but one held, a createVm still
// finds the free one (the cursor keeps landing on held addresses, so the
// allocator looks for it), and the next one is refused as full.
func TestCrowdedNetworkFindsTheLastAddress(t *testing.T) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	addNet(t, c, api.Network{Name: "lab", Kind: "bridge", CIDR: "10.9.1.0/24", Ranges: []string{"10.9.1.10-10.9.1.49"}, Default: true})
	u := c.User(t, "u", api.RoleUser, api.AddUserRequest{})
	for i := 10; i <= 49; i++ {
		if i == 37 {
			continue
		}
		s := cmtest.Spec(fmt.Sprintf("f%d", i))
		s.NICs = []api.NIC{{Network: "lab", IP: fmt.Sprintf("10.9.1.%d", i)}}
		if _, err := u.CreateVM(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	in, err := u.CreateVM(ctx, cmtest.Spec("last"))
	if err != nil || in.NICs[0].IP != "10.9.1.37" {
		t.Fatalf("createVm on a network with one free address: %+v %v; want 10.9.1.37", in.NICs, err)
	}
	if _, err := u.CreateVM(ctx, cmtest.Spec("over")); !api.IsCode(err, api.CodeConflict) {
		t.Fatalf("createVm on a full network: %v; want conflict", err)
	}
	checkLeases(t, c)
}
