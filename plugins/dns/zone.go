package dns

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// DefaultTTL is the TTL used when ZoneConfig.TTL or Updater.TTL is 0; it is
// Tashi's dnsExpire default.
const DefaultTTL = 300

// SOA timers; our zones have no secondaries, so these only need to be sane.
const (
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 86400
)

// Record is one name and address from the cluster record.
type Record struct {
	Name string // FQDN in any case, with or without the final dot
	IP   net.IP // IPv4
}

// ZoneConfig says which zones a Zone is authoritative for and how its SOA
// and NS look.
type ZoneConfig struct {
	// Domains are the forward zones, e.g. "cluster.test."; at least one,
	// none inside another.
	Domains []string
	// ReverseCIDRs are the IPv4 networks whose PTR names we answer, e.g.
	// "10.88.0.0/24" (0.88.10.in-addr.arpa.). A mask that is not a
	// multiple of 8 makes us authoritative for the enclosing octet zone
	// (/22 gives the /16 zone, /26 the /24 zone); nested zones merge
	// into the outer one.
	ReverseCIDRs []string
	// TTL of every record and of negative answers (Tashi's dnsExpire);
	// 0 means DefaultTTL.
	TTL uint32
	// NS is the name server named at every apex; "" means "ns." +
	// Domains[0]. Add a Record for it if it is inside our domains.
	NS string
	// Mbox is the SOA's responsible mailbox; "" means "hostmaster." +
	// Domains[0].
	Mbox string
	// Serial is the SOA serial: pass the version of the cluster record
	// the records came from.
	Serial uint32
}

// Zone is an immutable answer set; it is safe for concurrent use.
type Zone struct {
	ttl     uint32
	ns      string
	zones   []string             // apexes: forward domains, then reverse zones
	soa     map[string]*mdns.SOA // by apex
	nodes   map[string]*node     // every existing name, apexes and empty non-terminals included
	reverse []string
}

// node is the data at one name. A name may have several addresses; an
// address has at most one PTR.
type node struct {
	addrs []net.IP
	ptr   string
}

// NewZone validates cfg and records and builds a Zone. Records must lie
// inside cfg.Domains. When several records carry the same address, the
// first one's name is the PTR target; every name still answers its A.
func NewZone(cfg ZoneConfig, records []Record) (*Zone, error) {
	z := &Zone{ttl: cfg.TTL, soa: map[string]*mdns.SOA{}, nodes: map[string]*node{}}
	if z.ttl == 0 {
		z.ttl = DefaultTTL
	}
	domains, err := forwardZones(cfg.Domains)
	if err != nil {
		return nil, err
	}
	if z.reverse, err = reverseZones(cfg.ReverseCIDRs); err != nil {
		return nil, err
	}
	if err := z.setApexes(cfg, domains); err != nil {
		return nil, err
	}
	for i, r := range records {
		if err := z.add(i, r, domains); err != nil {
			return nil, err
		}
	}
	z.addEmptyNonTerminals()
	return z, nil
}

// Zones returns the apexes the zone is authoritative for: the forward
// domains, then the reverse zones.
func (z *Zone) Zones() []string { return slices.Clone(z.zones) }

func forwardZones(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, &FieldError{Field: "ZoneConfig.Domains", Value: "", Reason: "at least one forward domain is required"}
	}
	out := make([]string, 0, len(in))
	for i, d := range in {
		field := fmt.Sprintf("ZoneConfig.Domains[%d]", i)
		c, err := CanonicalName(d)
		if err != nil {
			return nil, &FieldError{Field: field, Value: d, Reason: err.Error()}
		}
		if inZone(c, "arpa.") {
			return nil, &FieldError{Field: field, Value: d, Reason: "reverse zones come from ReverseCIDRs"}
		}
		for _, prev := range out {
			if inZone(c, prev) || inZone(prev, c) {
				return nil, &FieldError{Field: field, Value: d, Reason: "overlaps " + prev}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func reverseZones(cidrs []string) ([]string, error) {
	var zones []string
	for i, s := range cidrs {
		field := fmt.Sprintf("ZoneConfig.ReverseCIDRs[%d]", i)
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, &FieldError{Field: field, Value: s, Reason: "not a CIDR such as 10.88.0.0/24"}
		}
		rz, err := reverseZone(p)
		if err != nil {
			return nil, &FieldError{Field: field, Value: s, Reason: err.Error() + "; use IPv4 /8 to /32"}
		}
		zones = append(zones, rz)
	}
	return outermost(zones), nil
}

// outermost drops duplicates and zones inside another zone of the list.
func outermost(zones []string) []string {
	var out []string
	for i, z := range zones {
		keep := true
		for j, o := range zones {
			if o != z && inZone(z, o) || o == z && j < i {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, z)
		}
	}
	return out
}

func (z *Zone) setApexes(cfg ZoneConfig, domains []string) error {
	ns, err := nameOr(cfg.NS, "ns."+domains[0], "ZoneConfig.NS")
	if err != nil {
		return err
	}
	mbox, err := nameOr(cfg.Mbox, "hostmaster."+domains[0], "ZoneConfig.Mbox")
	if err != nil {
		return err
	}
	z.ns = ns
	z.zones = append(slices.Clone(domains), z.reverse...)
	for _, apex := range z.zones {
		z.soa[apex] = &mdns.SOA{
			Hdr:     mdns.RR_Header{Name: apex, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: z.ttl},
			Ns:      ns,
			Mbox:    mbox,
			Serial:  cfg.Serial,
			Refresh: soaRefresh, Retry: soaRetry, Expire: soaExpire, Minttl: z.ttl,
		}
		z.nodes[apex] = &node{}
	}
	return nil
}

func nameOr(name, fallback, field string) (string, error) {
	if name == "" {
		name = fallback
	}
	c, err := CanonicalName(name)
	if err != nil {
		return "", &FieldError{Field: field, Value: name, Reason: err.Error()}
	}
	return c, nil
}

func (z *Zone) add(i int, r Record, domains []string) error {
	field := fmt.Sprintf("records[%d]", i)
	name, err := CanonicalName(r.Name)
	if err != nil {
		return &FieldError{Field: field + ".Name", Value: r.Name, Reason: err.Error()}
	}
	if !slices.ContainsFunc(domains, func(d string) bool { return inZone(name, d) }) {
		return &FieldError{Field: field + ".Name", Value: r.Name,
			Reason: "not inside the domains " + strings.Join(domains, ", ")}
	}
	a, ok := ipv4(r.IP)
	if !ok {
		return &FieldError{Field: field + ".IP", Value: r.IP.String(), Reason: "not an IPv4 address"}
	}
	z.addA(name, a)
	z.addPTR(reverseName(a), name)
	return nil
}

func (z *Zone) addA(name string, a netip.Addr) {
	n := z.node(name)
	ip := net.IP(a.AsSlice())
	if !slices.ContainsFunc(n.addrs, ip.Equal) {
		n.addrs = append(n.addrs, ip)
	}
}

// addPTR records target for rname if a reverse zone holds it and no
// earlier record claimed the address.
func (z *Zone) addPTR(rname, target string) {
	if !slices.ContainsFunc(z.reverse, func(rz string) bool { return inZone(rname, rz) }) {
		return
	}
	if n := z.node(rname); n.ptr == "" {
		n.ptr = target
	}
}

func (z *Zone) node(name string) *node {
	n := z.nodes[name]
	if n == nil {
		n = &node{}
		z.nodes[name] = n
	}
	return n
}

// addEmptyNonTerminals creates the names between an apex and a deeper
// name (sub.cluster.test. for vm.sub.cluster.test.): they exist, with no
// data, so they answer NODATA rather than NXDOMAIN.
func (z *Zone) addEmptyNonTerminals() {
	var names []string
	for name := range z.nodes {
		names = append(names, name)
	}
	for _, name := range names {
		for off, end := mdns.NextLabel(name, 0); !end; off, end = mdns.NextLabel(name, off) {
			parent := name[off:]
			if _, ok := z.nodes[parent]; ok {
				break
			}
			z.nodes[parent] = &node{}
		}
	}
}
