package dhcp

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

func TestTableSetLookupDelete(t *testing.T) {
	var tab Table
	if _, ok := tab.Lookup(knownMAC); ok || tab.Len() != 0 {
		t.Fatal("zero table is not empty")
	}
	if err := tab.Set(testLease()); err != nil {
		t.Fatal(err)
	}
	got, ok := tab.Lookup(knownMAC)
	if !ok || !got.IP.Equal(leasedIP) || got.Hostname != "vm-42" || tab.Len() != 1 {
		t.Fatalf("lookup = %+v, %v, len %d; want the lease", got, ok, tab.Len())
	}
	if _, ok := tab.Lookup(unknownMAC); ok {
		t.Error("unknown mac found")
	}
	tab.Delete(knownMAC)
	if _, ok := tab.Lookup(knownMAC); ok || tab.Len() != 0 {
		t.Error("lease still there after Delete")
	}
	tab.Delete(knownMAC) // deleting twice is fine
}

func TestTableCopies(t *testing.T) {
	var tab Table
	l := testLease()
	if err := tab.Set(l); err != nil {
		t.Fatal(err)
	}
	l.IP[3], l.DNS[0][15] = 77, 77 // the caller reuses its slices
	got, _ := tab.Lookup(knownMAC)
	got.MAC[5], got.Router[15] = 77, 77 // the reader scribbles on its copy
	again, ok := tab.Lookup(knownMAC)
	if !ok || again.MAC.String() != knownMAC.String() || !again.IP.Equal(leasedIP) || !again.DNS[0].Equal(net.IPv4(10, 0, 0, 53)) ||
		!again.Router.Equal(net.IPv4(10, 0, 0, 1)) {
		t.Errorf("table shares memory with callers: %+v", again)
	}
}

func TestTableRejectsInvalidLeases(t *testing.T) {
	mod := func(f func(*Lease)) Lease { l := testLease(); f(&l); return l }
	cases := map[string]Lease{
		"short mac":     mod(func(l *Lease) { l.MAC = l.MAC[:4] }),
		"no ip":         mod(func(l *Lease) { l.IP = nil }),
		"ipv6":          mod(func(l *Lease) { l.IP = net.ParseIP("fd00::5") }),
		"zero ip":       mod(func(l *Lease) { l.IP = net.IPv4zero }),
		"no mask":       mod(func(l *Lease) { l.Mask = nil }),
		"holey mask":    mod(func(l *Lease) { l.Mask = net.IPv4Mask(255, 0, 255, 0) }),
		"ipv6 router":   mod(func(l *Lease) { l.Router = net.ParseIP("fd00::1") }),
		"bad dns":       mod(func(l *Lease) { l.DNS = append(l.DNS, net.IPv4bcast) }),
		"mtu too small": mod(func(l *Lease) { l.MTU = 67 }),
		"mtu too big":   mod(func(l *Lease) { l.MTU = 65536 }),
		"negative time": mod(func(l *Lease) { l.LeaseTime = -time.Second }),
		"huge time":     mod(func(l *Lease) { l.LeaseTime = 200 * 365 * 24 * time.Hour }),
	}
	for name, l := range cases {
		var tab Table
		if err := tab.Set(l); !errors.Is(err, ErrInvalidLease) {
			t.Errorf("%s: err = %v, want ErrInvalidLease", name, err)
		}
		if tab.Len() != 0 {
			t.Errorf("%s: invalid lease stored", name)
		}
	}
}

func TestTableOneMACPerAddress(t *testing.T) {
	var tab Table
	if err := tab.Set(testLease()); err != nil {
		t.Fatal(err)
	}
	other := testLease()
	other.MAC = unknownMAC
	if err := tab.Set(other); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("second mac on the same address: err = %v, want ErrAddressInUse", err)
	}
	moved := testLease()
	moved.IP = wrongIP
	if err := tab.Set(moved); err != nil { // a MAC may change its own address
		t.Fatal(err)
	}
	if err := tab.Set(other); err != nil { // and the old address is free again
		t.Fatalf("old address not freed: %v", err)
	}
}

// TestTableNoAddressLeasedTwice applies random Set and Delete calls from
// several goroutines and checks that no two MACs ever share an address.
func TestTableNoAddressLeasedTwice(t *testing.T) {
	var tab Table
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range 2000 {
				l := testLease()
				l.MAC = net.HardwareAddr{2, 0, 0, 0, 0, byte(rng.IntN(16))}
				l.IP = net.IPv4(10, 0, 0, byte(1+rng.IntN(16)))
				if rng.IntN(4) == 0 {
					tab.Delete(l.MAC)
				} else if err := tab.Set(l); err != nil && !errors.Is(err, ErrAddressInUse) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]string{}
	for mac, l := range tab.byMAC {
		if other, dup := seen[l.IP.String()]; dup {
			t.Errorf("%s leased to %x and %x", l.IP, other, mac)
		}
		seen[l.IP.String()] = mac
	}
	if len(tab.byAddr) != len(tab.byMAC) {
		t.Errorf("index out of step: %d addresses, %d macs", len(tab.byAddr), len(tab.byMAC))
	}
}
