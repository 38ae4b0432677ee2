package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary bytes that unpack as a DNS message to
// Zone.Answer: it must not panic, must answer as a response with the
// request's id, and the response must pack and survive UDP truncation.
func FuzzAnswer(f *testing.F) {
	seeds := []*mdns.Msg{
		query("vm1.cluster.test.", mdns.TypeA),
		query("VM2.cluster.test.", mdns.TypeANY),
		query("11.0.88.10.in-addr.arpa.", mdns.TypePTR),
		query("nope.cluster.test.", mdns.TypeAAAA),
		query("cluster.test.", mdns.TypeNS),
		query("example.com.", mdns.TypeA),
		withEDNS(query("vm1.cluster.test.", mdns.TypeA), 4096, 0),
		withEDNS(query("vm1.cluster.test.", mdns.TypeA), 512, 3),
		withQuestions(query("vm1.cluster.test.", mdns.TypeA), 2),
		update("cluster.test."),
	}
	for _, m := range seeds {
		wire, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire)
	}
	z := testZone(f)
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := new(mdns.Msg)
		if err := req.Unpack(wire); err != nil {
			return
		}
		resp := z.Answer(req)
		if !resp.Response || resp.Id != req.Id {
			t.Fatalf("response header %+v for request %+v", resp.MsgHdr, req.MsgHdr)
		}
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("response does not pack: %v\nrequest: %v\nresponse: %v", err, req, resp)
		}
		resp.Truncate(udpLimit(req))
		if out, err := resp.Pack(); err != nil || len(out) > maxUDPPayload && len(out) > mdns.MinMsgSize {
			t.Fatalf("truncated response: %d bytes, %v", len(out), err)
		}
	})
}

// FuzzParseKey: ParseKey never panics, and a key it accepts passes its
// own checks.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte(keygenOutput))
	f.Add([]byte("/* c */ key x { secret \"AAAA\"; algorithm hmac-sha1; }; # end"))
	f.Add([]byte("key \"a\" {"))
	f.Fuzz(func(t *testing.T, text []byte) {
		k, err := ParseKey(text)
		if err == nil && k.check() != nil {
			t.Fatalf("ParseKey accepted %+v, which fails check: %v", k, k.check())
		}
	})
}
