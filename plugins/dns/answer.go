package dns

import (
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// maxUDPPayload is the EDNS payload size we advertise and the largest UDP
// response we send (the DNS Flag Day 2020 value: no IP fragmentation).
const maxUDPPayload = 1232

// Answer returns the response to req. It is pure and never panics:
//   - A and PTR answers are authoritative (AA); a name may have several A.
//   - A name inside our zones that does not exist gives NXDOMAIN, an
//     existing name without the asked type NOERROR with no answer (NODATA);
//     both carry the zone's SOA in the authority section.
//   - SOA and NS are answered at the apexes; ANY returns all of a name's
//     records.
//   - Names outside our zones, classes other than IN and zone transfers
//     are REFUSED: we are neither a resolver nor a primary for secondaries.
//   - A request that is a response, has other than one question or more
//     than one OPT gives FORMERR; opcodes other than QUERY (UPDATE among
//     them: our data comes from the cluster record) give NOTIMP; an EDNS
//     version other than 0 gives BADVERS.
//
// Names match case-insensitively and answers echo the question's case.
// Answer does not truncate; the Server does that for UDP.
func (z *Zone) Answer(req *mdns.Msg) *mdns.Msg {
	resp := new(mdns.Msg)
	if req == nil {
		resp.Response, resp.Rcode = true, mdns.RcodeFormatError
		return resp
	}
	resp.Id, resp.Opcode, resp.Response = req.Id, req.Opcode, true
	resp.RecursionDesired, resp.CheckingDisabled = req.RecursionDesired, req.CheckingDisabled
	resp.Question = slices.Clone(req.Question)
	resp.Compress = true
	if rcode, ok := addEDNS(req, resp); !ok {
		resp.Rcode = rcode
		return resp
	}
	switch {
	case req.Response || len(req.Question) != 1:
		resp.Rcode = mdns.RcodeFormatError
		if len(req.Question) != 1 {
			resp.Question = nil
		}
	case req.Opcode != mdns.OpcodeQuery:
		resp.Rcode = mdns.RcodeNotImplemented
	default:
		z.query(resp, req.Question[0])
	}
	return resp
}

// addEDNS copies an OPT into resp if req has one. It returns false with
// the rcode to send when the request's EDNS is unacceptable.
func addEDNS(req, resp *mdns.Msg) (int, bool) {
	var opt *mdns.OPT
	for _, rr := range req.Extra {
		o, ok := rr.(*mdns.OPT)
		if !ok {
			continue
		}
		if opt != nil {
			return mdns.RcodeFormatError, false
		}
		opt = o
	}
	if opt == nil {
		return 0, true
	}
	resp.SetEdns0(maxUDPPayload, false)
	if opt.Version() != 0 {
		return mdns.RcodeBadVers, false
	}
	return 0, true
}

func (z *Zone) query(resp *mdns.Msg, q mdns.Question) {
	name := strings.ToLower(q.Name)
	apex := z.apexOf(name)
	switch {
	case apex == "":
		resp.Rcode = mdns.RcodeRefused
		return
	case q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY:
		resp.Rcode = mdns.RcodeRefused
		return
	case q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR:
		resp.Rcode = mdns.RcodeRefused
		return
	}
	resp.Authoritative = true
	n, ok := z.nodes[name]
	if !ok {
		resp.Rcode = mdns.RcodeNameError
		resp.Ns = []mdns.RR{z.soa[apex]}
		return
	}
	var soa *mdns.SOA
	if name == apex {
		soa = z.soa[apex]
	}
	resp.Answer = z.records(n, q, soa)
	if len(resp.Answer) == 0 {
		resp.Ns = []mdns.RR{z.soa[apex]}
		return
	}
	if q.Qtype == mdns.TypeNS {
		resp.Extra = append(z.glue(), resp.Extra...)
	}
}

// apexOf returns the apex of the zone holding the lowercase name, or "".
func (z *Zone) apexOf(name string) string {
	if name == "" {
		return ""
	}
	for off, end := 0, false; !end; off, end = mdns.NextLabel(name, off) {
		if _, ok := z.soa[name[off:]]; ok {
			return name[off:]
		}
	}
	return ""
}

// records returns n's records of the asked type, owned by the question's
// name as spelt in the question; soa is the zone's SOA if n is its apex.
func (z *Zone) records(n *node, q mdns.Question, soa *mdns.SOA) []mdns.RR {
	all := q.Qtype == mdns.TypeANY
	var out []mdns.RR
	if soa != nil && (all || q.Qtype == mdns.TypeSOA) {
		s := *soa
		s.Hdr.Name = q.Name
		out = append(out, &s)
	}
	if soa != nil && (all || q.Qtype == mdns.TypeNS) {
		out = append(out, &mdns.NS{Hdr: z.hdr(q.Name, mdns.TypeNS), Ns: z.ns})
	}
	if all || q.Qtype == mdns.TypeA {
		for _, ip := range n.addrs {
			out = append(out, &mdns.A{Hdr: z.hdr(q.Name, mdns.TypeA), A: ip})
		}
	}
	if n.ptr != "" && (all || q.Qtype == mdns.TypePTR) {
		out = append(out, &mdns.PTR{Hdr: z.hdr(q.Name, mdns.TypePTR), Ptr: n.ptr})
	}
	return out
}

// glue returns the name server's addresses if we hold them.
func (z *Zone) glue() []mdns.RR {
	n, ok := z.nodes[z.ns]
	if !ok {
		return nil
	}
	out := make([]mdns.RR, 0, len(n.addrs))
	for _, ip := range n.addrs {
		out = append(out, &mdns.A{Hdr: z.hdr(z.ns, mdns.TypeA), A: ip})
	}
	return out
}

func (z *Zone) hdr(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: z.ttl}
}
