package dns

import (
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// rrText is rr in one-space presentation form: "a.test. 60 IN A 10.0.0.1".
func rrText(rrs []mdns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

const testSOA = "cluster.test. 60 IN SOA ns.cluster.test. hostmaster.cluster.test. 7 3600 600 86400 60"
const revSOA = "0.88.10.in-addr.arpa. 60 IN SOA ns.cluster.test. hostmaster.cluster.test. 7 3600 600 86400 60"

func TestAnswer(t *testing.T) {
	z := testZone(t)
	tests := []struct {
		name   string
		req    *mdns.Msg
		rcode  int
		aa     bool
		answer []string
		ns     []string
		extra  []string
	}{
		{"A", query("vm1.cluster.test.", mdns.TypeA), mdns.RcodeSuccess, true,
			[]string{"vm1.cluster.test. 60 IN A 10.88.0.11"}, nil, nil},
		{"A two addresses", query("vm2.cluster.test.", mdns.TypeA), mdns.RcodeSuccess, true,
			[]string{"vm2.cluster.test. 60 IN A 10.88.0.12", "vm2.cluster.test. 60 IN A 10.88.0.13"}, nil, nil},
		{"case echoed", query("Vm1.CLUSTER.test.", mdns.TypeA), mdns.RcodeSuccess, true,
			[]string{"Vm1.CLUSTER.test. 60 IN A 10.88.0.11"}, nil, nil},
		{"PTR first name wins", query("11.0.88.10.in-addr.arpa.", mdns.TypePTR), mdns.RcodeSuccess, true,
			[]string{"11.0.88.10.in-addr.arpa. 60 IN PTR vm1.cluster.test."}, nil, nil},
		{"PTR of a second address", query("13.0.88.10.IN-ADDR.ARPA.", mdns.TypePTR), mdns.RcodeSuccess, true,
			[]string{"13.0.88.10.IN-ADDR.ARPA. 60 IN PTR vm2.cluster.test."}, nil, nil},
		{"A of the PTR loser", query("dup.cluster.test.", mdns.TypeA), mdns.RcodeSuccess, true,
			[]string{"dup.cluster.test. 60 IN A 10.88.0.11"}, nil, nil},
		{"NXDOMAIN", query("nope.cluster.test.", mdns.TypeA), mdns.RcodeNameError, true,
			nil, []string{testSOA}, nil},
		{"NXDOMAIN below a name", query("x.vm1.cluster.test.", mdns.TypeA), mdns.RcodeNameError, true,
			nil, []string{testSOA}, nil},
		{"NXDOMAIN reverse", query("99.0.88.10.in-addr.arpa.", mdns.TypePTR), mdns.RcodeNameError, true,
			nil, []string{revSOA}, nil},
		{"NODATA AAAA", query("vm1.cluster.test.", mdns.TypeAAAA), mdns.RcodeSuccess, true,
			nil, []string{testSOA}, nil},
		{"NODATA MX", query("vm1.cluster.test.", mdns.TypeMX), mdns.RcodeSuccess, true,
			nil, []string{testSOA}, nil},
		{"NODATA empty non-terminal", query("sub.cluster.test.", mdns.TypeA), mdns.RcodeSuccess, true,
			nil, []string{testSOA}, nil},
		{"A in subdomain", query("vm3.sub.cluster.test.", mdns.TypeA), mdns.RcodeSuccess, true,
			[]string{"vm3.sub.cluster.test. 60 IN A 10.88.0.14"}, nil, nil},
		{"SOA apex", query("cluster.test.", mdns.TypeSOA), mdns.RcodeSuccess, true,
			[]string{testSOA}, nil, nil},
		{"NS apex with glue", query("cluster.test.", mdns.TypeNS), mdns.RcodeSuccess, true,
			[]string{"cluster.test. 60 IN NS ns.cluster.test."}, nil, []string{"ns.cluster.test. 60 IN A 10.88.0.1"}},
		{"NS reverse apex", query("0.88.10.in-addr.arpa.", mdns.TypeNS), mdns.RcodeSuccess, true,
			[]string{"0.88.10.in-addr.arpa. 60 IN NS ns.cluster.test."}, nil, []string{"ns.cluster.test. 60 IN A 10.88.0.1"}},
		{"SOA below apex is NODATA", query("vm1.cluster.test.", mdns.TypeSOA), mdns.RcodeSuccess, true,
			nil, []string{testSOA}, nil},
		{"ANY", query("vm1.cluster.test.", mdns.TypeANY), mdns.RcodeSuccess, true,
			[]string{"vm1.cluster.test. 60 IN A 10.88.0.11"}, nil, nil},
		{"outside REFUSED", query("example.com.", mdns.TypeA), mdns.RcodeRefused, false, nil, nil, nil},
		{"parent REFUSED", query("test.", mdns.TypeSOA), mdns.RcodeRefused, false, nil, nil, nil},
		{"reverse outside CIDR REFUSED", query("9.2.0.192.in-addr.arpa.", mdns.TypePTR), mdns.RcodeRefused, false, nil, nil, nil},
		{"root REFUSED", query(".", mdns.TypeNS), mdns.RcodeRefused, false, nil, nil, nil},
		{"AXFR REFUSED", query("cluster.test.", mdns.TypeAXFR), mdns.RcodeRefused, false, nil, nil, nil},
		{"CHAOS REFUSED", withClass(query("cluster.test.", mdns.TypeTXT), mdns.ClassCHAOS), mdns.RcodeRefused, false, nil, nil, nil},
		{"no question FORMERR", withQuestions(query("vm1.cluster.test.", mdns.TypeA), 0), mdns.RcodeFormatError, false, nil, nil, nil},
		{"two questions FORMERR", withQuestions(query("vm1.cluster.test.", mdns.TypeA), 2), mdns.RcodeFormatError, false, nil, nil, nil},
		{"response FORMERR", asResponse(query("vm1.cluster.test.", mdns.TypeA)), mdns.RcodeFormatError, false, nil, nil, nil},
		{"UPDATE NOTIMP", update("cluster.test."), mdns.RcodeNotImplemented, false, nil, nil, nil},
		{"NOTIFY NOTIMP", withOpcode(query("cluster.test.", mdns.TypeSOA), mdns.OpcodeNotify), mdns.RcodeNotImplemented, false, nil, nil, nil},
		{"EDNS", withEDNS(query("vm1.cluster.test.", mdns.TypeA), 4096, 0), mdns.RcodeSuccess, true,
			[]string{"vm1.cluster.test. 60 IN A 10.88.0.11"}, nil, []string{"OPT"}},
		{"EDNS version 1 BADVERS", withEDNS(query("vm1.cluster.test.", mdns.TypeA), 4096, 1), mdns.RcodeBadVers, false,
			nil, nil, []string{"OPT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := z.Answer(tt.req)
			checkReply(t, tt.req, resp)
			if resp.Rcode != tt.rcode || resp.Authoritative != tt.aa {
				t.Errorf("rcode %s aa %v, want %s aa %v", mdns.RcodeToString[resp.Rcode], resp.Authoritative,
					mdns.RcodeToString[tt.rcode], tt.aa)
			}
			if got := rrText(resp.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer %q, want %q", got, tt.answer)
			}
			if got := rrText(resp.Ns); !slices.Equal(got, tt.ns) {
				t.Errorf("authority %q, want %q", got, tt.ns)
			}
			if got := extraText(resp.Extra); !slices.Equal(got, tt.extra) {
				t.Errorf("additional %q, want %q", got, tt.extra)
			}
		})
	}
}

// checkReply checks what every response must do: QR set, id, opcode and
// RD copied, no RA, and it packs.
func checkReply(t *testing.T, req, resp *mdns.Msg) {
	t.Helper()
	if !resp.Response || resp.Id != req.Id || resp.Opcode != req.Opcode ||
		resp.RecursionDesired != req.RecursionDesired || resp.RecursionAvailable {
		t.Errorf("bad header: %+v for request %+v", resp.MsgHdr, req.MsgHdr)
	}
	if _, err := resp.Pack(); err != nil {
		t.Errorf("response does not pack: %v", err)
	}
}

// extraText is like rrText but shows an OPT as "OPT".
func extraText(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if _, ok := rr.(*mdns.OPT); ok {
			out = append(out, "OPT")
			continue
		}
		out = append(out, rrText([]mdns.RR{rr})...)
	}
	return out
}

func TestAnswerEDNSAdvertisesOurSize(t *testing.T) {
	resp := testZone(t).Answer(withEDNS(query("vm1.cluster.test.", mdns.TypeA), 4096, 0))
	opt := resp.IsEdns0()
	if opt == nil || opt.UDPSize() != maxUDPPayload || opt.Version() != 0 {
		t.Fatalf("OPT = %v, want UDP size %d version 0", opt, maxUDPPayload)
	}
}

func TestAnswerNil(t *testing.T) {
	resp := testZone(t).Answer(nil)
	if resp.Rcode != mdns.RcodeFormatError || !resp.Response {
		t.Errorf("Answer(nil) = %v, want a FORMERR response", resp)
	}
}

func TestAnswerEmptyZone(t *testing.T) {
	z, err := NewZone(ZoneConfig{Domains: []string{"empty.test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := z.Answer(query("cluster.test.", mdns.TypeA))
	if resp.Rcode != mdns.RcodeRefused {
		t.Errorf("rcode %s, want REFUSED", mdns.RcodeToString[resp.Rcode])
	}
	resp = z.Answer(query("empty.test.", mdns.TypeSOA))
	want := "empty.test. 300 IN SOA ns.empty.test. hostmaster.empty.test. 0 3600 600 86400 300"
	if got := rrText(resp.Answer); len(got) != 1 || got[0] != want {
		t.Errorf("default SOA %q, want %q", got, want)
	}
}

func withClass(m *mdns.Msg, class uint16) *mdns.Msg { m.Question[0].Qclass = class; return m }
func asResponse(m *mdns.Msg) *mdns.Msg              { m.Response = true; return m }
func withOpcode(m *mdns.Msg, op int) *mdns.Msg      { m.Opcode = op; return m }

func withQuestions(m *mdns.Msg, n int) *mdns.Msg {
	q := m.Question[0]
	m.Question = nil
	for range n {
		m.Question = append(m.Question, q)
	}
	return m
}

func withEDNS(m *mdns.Msg, size uint16, version uint8) *mdns.Msg {
	m.SetEdns0(size, false)
	m.IsEdns0().SetVersion(version)
	return m
}

func update(zone string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetUpdate(zone)
	a, _ := mdns.NewRR("evil." + zone + " 60 IN A 192.0.2.1")
	m.Insert([]mdns.RR{a})
	return m
}
