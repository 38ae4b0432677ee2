package dns

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// expectDig checks what dig gets from server for args.
func expectDig(t *testing.T, server, status string, want []string, args ...string) {
	t.Helper()
	gotStatus, got := digAnswers(t, server, args...)
	if gotStatus != status || !slices.Equal(got, want) {
		t.Errorf("dig %v: %s %q, want %s %q", args, gotStatus, got, status, want)
	}
}

func TestUpdaterBIND(t *testing.T) {
	needDig(t)
	key := testKey(t, t.TempDir(), "tashi-update")
	server := startNamed(t, key)
	ctx := context.Background()
	u := &Updater{Server: server, Zone: "cluster.test", Reverse: true, TTL: 120, Key: key, Timeout: 3 * time.Second}
	ip := net.ParseIP

	if err := u.Add(ctx, "VM1.cluster.test", ip("10.88.0.11")); err != nil {
		t.Fatalf("Add: %v", err)
	}
	expectDig(t, server, "NOERROR", []string{"A 10.88.0.11"}, "vm1.cluster.test", "A")
	expectDig(t, server, "NOERROR", []string{"PTR vm1.cluster.test."}, "-x", "10.88.0.11")
	if r := dig(t, server, "vm1.cluster.test", "A"); len(r.Answer) == 1 && r.Answer[0][1] != "120" {
		t.Errorf("TTL %s, want 120", r.Answer[0][1])
	}

	// Add replaces the address; Remove of the old one drops its PTR.
	if err := u.Remove(ctx, "vm1.cluster.test", ip("10.88.0.11")); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := u.Add(ctx, "vm1.cluster.test.", ip("10.88.0.12")); err != nil {
		t.Fatalf("Add: %v", err)
	}
	expectDig(t, server, "NOERROR", []string{"A 10.88.0.12"}, "vm1.cluster.test", "A")
	expectDig(t, server, "NXDOMAIN", nil, "-x", "10.88.0.11")

	if err := u.Remove(ctx, "vm1.cluster.test", ip("10.88.0.12")); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	expectDig(t, server, "NXDOMAIN", nil, "vm1.cluster.test", "A")
	expectDig(t, server, "NXDOMAIN", nil, "-x", "10.88.0.12")
	if err := u.Remove(ctx, "vm1.cluster.test", ip("10.88.0.12")); err != nil {
		t.Errorf("second Remove: %v, want nil", err)
	}

	// Remove leaves a PTR that names another host.
	if err := u.Add(ctx, "vm2.cluster.test", ip("10.88.0.20")); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := u.Remove(ctx, "vm3.cluster.test", ip("10.88.0.20")); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	expectDig(t, server, "NOERROR", []string{"PTR vm2.cluster.test."}, "-x", "10.88.0.20")

	t.Run("wrong secret", func(t *testing.T) {
		bad := *u
		bad.Key.Secret = randomSecret(t)
		err := bad.Add(ctx, "evil.cluster.test", ip("10.88.0.66"))
		checkRefused(t, err, mdns.RcodeNotAuth, mdns.RcodeBadSig, "NOTAUTH", "is the TSIG key right?")
		err = bad.Remove(ctx, "vm2.cluster.test", ip("10.88.0.20"))
		checkRefused(t, err, mdns.RcodeNotAuth, mdns.RcodeBadSig, "NOTAUTH", "is the TSIG key right?")
		expectDig(t, server, "NXDOMAIN", nil, "evil.cluster.test", "A")
		expectDig(t, server, "NOERROR", []string{"A 10.88.0.20"}, "vm2.cluster.test", "A")
		expectDig(t, server, "NOERROR", []string{"PTR vm2.cluster.test."}, "-x", "10.88.0.20")
	})
	t.Run("unknown key name", func(t *testing.T) {
		bad := *u
		bad.Key.Name = "nobody"
		err := bad.Add(ctx, "evil.cluster.test", ip("10.88.0.66"))
		checkRefused(t, err, mdns.RcodeNotAuth, mdns.RcodeBadKey, "BADKEY", "does the server know this TSIG key")
	})
	t.Run("unsigned", func(t *testing.T) {
		bad := *u
		bad.Key = Key{}
		err := bad.Add(ctx, "evil.cluster.test", ip("10.88.0.66"))
		checkRefused(t, err, mdns.RcodeRefused, 0, "REFUSED", "allow-update")
		expectDig(t, server, "NXDOMAIN", nil, "evil.cluster.test", "A")
	})
	t.Run("zone not served", func(t *testing.T) {
		bad := *u
		bad.Zone = "other.test"
		err := bad.Add(ctx, "vm.other.test", ip("10.88.0.66"))
		if !errors.Is(err, ErrRefused) {
			t.Errorf("error %v, want ErrRefused", err)
		}
		t.Logf("error: %v", err)
	})
}

// checkRefused checks err is an *UpdateError refusing with rcode and tsig
// error, whose text names the server, the code and the hint.
func checkRefused(t *testing.T, err error, rcode int, tsigErr uint16, code, hint string) {
	t.Helper()
	var ue *UpdateError
	if !errors.As(err, &ue) || !errors.Is(err, ErrRefused) {
		t.Fatalf("error %v, want an *UpdateError wrapping ErrRefused", err)
	}
	if ue.Rcode != rcode || ue.TSIGError != tsigErr {
		t.Errorf("rcode %d tsig error %d, want %d %d", ue.Rcode, ue.TSIGError, rcode, tsigErr)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, s := range []string{"dns server " + ue.Server + " refused the update of", code, hint} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not say %q", msg, s)
		}
	}
}

func TestUpdaterRejectsInput(t *testing.T) {
	good := Updater{Server: "127.0.0.1:1", Zone: "cluster.test", Reverse: true}
	tests := []struct {
		name   string
		mutate func(*Updater)
		host   string
		ip     string
		field  string
	}{
		{"server without port", func(u *Updater) { u.Server = "127.0.0.1" }, "vm.cluster.test", "10.88.0.1", "Updater.Server"},
		{"bad zone", func(u *Updater) { u.Zone = "a..b" }, "vm.cluster.test", "10.88.0.1", "Updater.Zone"},
		{"name outside zone", nil, "vm.other.test", "10.88.0.1", "name"},
		{"bad name", nil, "vm_1.cluster.test", "10.88.0.1", "name"},
		{"IPv6", nil, "vm.cluster.test", "fd00::1", "ip"},
		{"no ip with Reverse", nil, "vm.cluster.test", "", "ip"},
		{"reverse zone not arpa", func(u *Updater) { u.ReverseZone = "cluster.test" }, "vm.cluster.test", "10.88.0.1", "Updater.ReverseZone"},
		{"ip outside reverse zone", func(u *Updater) { u.ReverseZone = "0.88.10.in-addr.arpa" }, "vm.cluster.test", "10.89.0.1", "ip"},
		{"bad key", func(u *Updater) { u.Key = Key{Name: "k", Algorithm: "hmac-md5", Secret: "AAAA"} }, "vm.cluster.test", "10.88.0.1", "key algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := good
			if tt.mutate != nil {
				tt.mutate(&u)
			}
			for op, call := range map[string]func(context.Context, string, net.IP) error{"Add": u.Add, "Remove": u.Remove} {
				err := call(context.Background(), tt.host, net.ParseIP(tt.ip))
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Errorf("%s: error %v, want a *FieldError for %s", op, err, tt.field)
				}
			}
		})
	}
}

func TestUpdaterRemoveWithoutReverseNeedsNoIP(t *testing.T) {
	key := Key{Name: "k", Algorithm: "hmac-sha256", Secret: randomSecret(t)}
	addr, got := fakeUpdateServer(t, key, func(w mdns.ResponseWriter, req *mdns.Msg) {
		reply(w, req, key.Secret)
	})
	u := Updater{Server: addr, Zone: "cluster.test", Key: key}
	if err := u.Remove(context.Background(), "vm.cluster.test", nil); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	m := <-got
	if len(m.Ns) != 1 || m.Ns[0].Header().Class != mdns.ClassANY || m.Ns[0].Header().Rrtype != mdns.TypeA ||
		m.Ns[0].Header().Name != "vm.cluster.test." || m.Question[0].Name != "cluster.test." {
		t.Errorf("update %v, want the deletion of vm.cluster.test.'s A RRset in zone cluster.test.", m)
	}
}

func TestUpdaterBadResponseSignature(t *testing.T) {
	key := Key{Name: "k", Algorithm: "hmac-sha256", Secret: randomSecret(t)}
	tests := []struct {
		name    string
		handler mdns.HandlerFunc
	}{
		{"unsigned", func(w mdns.ResponseWriter, req *mdns.Msg) { reply(w, req, "") }},
		{"other secret", func(w mdns.ResponseWriter, req *mdns.Msg) { reply(w, req, randomSecret(t)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := fakeUpdateServer(t, key, tt.handler)
			u := Updater{Server: addr, Zone: "cluster.test", Key: key, Timeout: 3 * time.Second}
			err := u.Add(context.Background(), "vm.cluster.test", net.ParseIP("10.88.0.1"))
			if !errors.Is(err, ErrBadSignature) {
				t.Errorf("error %v, want ErrBadSignature", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestUpdaterTimeout(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	u := Updater{Server: pc.LocalAddr().String(), Zone: "cluster.test", Timeout: 100 * time.Millisecond}
	err = u.Add(context.Background(), "vm.cluster.test", net.ParseIP("10.88.0.1"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.Contains(err.Error(), "send update of vm.cluster.test. to "+u.Server) {
		t.Errorf("error %v, want a timeout naming the name and server", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := u.Add(ctx, "vm.cluster.test", net.ParseIP("10.88.0.1")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}

// fakeUpdateServer serves handler on UDP, verifying TSIG with key, and
// hands each request to the returned channel.
func fakeUpdateServer(t *testing.T, key Key, handler mdns.HandlerFunc) (string, <-chan *mdns.Msg) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *mdns.Msg, 10)
	kname, _ := key.tsig()
	srv := &mdns.Server{PacketConn: pc, TsigSecret: map[string]string{kname: key.Secret},
		MsgAcceptFunc: accept,
		Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
			got <- req
			handler(w, req)
		})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), got
}

// reply answers NOERROR, signed with secret under the request's key name
// if secret is not "".
func reply(w mdns.ResponseWriter, req *mdns.Msg, secret string) {
	m := new(mdns.Msg)
	m.SetReply(req)
	if tsig := req.IsTsig(); tsig != nil && secret != "" {
		m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
		wire, _, _ := mdns.TsigGenerate(m, secret, tsig.MAC, false)
		w.Write(wire)
		return
	}
	w.WriteMsg(m)
}
