package telemetry

import (
	"fmt"
	"sort"
	"strings"
)

// The keys of a host line, in Location order.
const (
	keyRack = iota
	keySwitch
	keyFaultDomain
	numKeys
)

var topologyKeys = [numKeys]string{"rack", "switch", "faultDomain"}

const acceptedKeys = "accepted keys: rack, switch, faultDomain"

// field is one key's value for a host and the line that gave it.
type field struct {
	value string
	line  int
}

// draft is what the lines so far say about one host.
type draft struct {
	name   string
	first  int // the first line naming the host
	fields [numKeys]field
}

type topoParser struct {
	src   string
	hosts map[string]*draft
}

func parseTopology(src, text string) (*Topology, error) {
	p := &topoParser{src: src, hosts: map[string]*draft{}}
	for i, line := range strings.Split(text, "\n") {
		if err := p.line(i+1, line); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

func (p *topoParser) errorf(line int, format string, args ...any) error {
	return &ParseError{What: "topology", Source: p.src, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *topoParser) line(n int, line string) error {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	if rack, ok := strings.CutSuffix(f[0], ":"); ok {
		return p.rackLine(n, rack, f[1:])
	}
	return p.hostLine(n, f[0], f[1:])
}

// rackLine reads "RACK: HOST...".
func (p *topoParser) rackLine(n int, rack string, hosts []string) error {
	if rack == "" || strings.ContainsAny(rack, "=:") {
		return p.errorf(n, "bad rack name %q in a \"RACK: HOST...\" line", rack)
	}
	if len(hosts) == 0 {
		return p.errorf(n, "rack line %q lists no hosts", rack+":")
	}
	for _, h := range hosts {
		if strings.ContainsAny(h, "=:") {
			return p.errorf(n, "rack %s: expected host names after %q, got %q", rack, rack+":", h)
		}
		if err := p.set(n, h, keyRack, rack); err != nil {
			return err
		}
	}
	return nil
}

// hostLine reads "HOST key=value...".
func (p *topoParser) hostLine(n int, host string, kvs []string) error {
	if strings.Contains(host, "=") {
		return p.errorf(n, "line starts with %q: expected a host name (\"HOST key=value...\") or a rack (\"RACK: HOST...\")", host)
	}
	if len(kvs) == 0 {
		return p.errorf(n, "host %s has no key=value; %s", host, acceptedKeys)
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p.errorf(n, "host %s: expected key=value, got %q; %s", host, kv, acceptedKeys)
		}
		key := lookupKey(k)
		if key < 0 {
			return p.errorf(n, "host %s: unknown key %q; %s", host, k, acceptedKeys)
		}
		if err := p.set(n, host, key, v); err != nil {
			return err
		}
	}
	return nil
}

func lookupKey(k string) int {
	for i, name := range topologyKeys {
		if strings.EqualFold(k, name) {
			return i
		}
	}
	return -1
}

// set records host's key, refusing a value that contradicts an earlier line.
func (p *topoParser) set(n int, host string, key int, v string) error {
	name := topologyKeys[key]
	switch {
	case v == "":
		return p.errorf(n, "host %s: empty value for %s", host, name)
	case strings.EqualFold(v, Unknown):
		return p.errorf(n, "host %s: %s=%s: %q is reserved for hosts not in the topology", host, name, v, Unknown)
	}
	d := p.hosts[host]
	if d == nil {
		d = &draft{name: host, first: n}
		p.hosts[host] = d
	}
	f := &d.fields[key]
	if f.value != "" && f.value != v {
		return p.errorf(n, "host %s: %s=%s conflicts with %s=%s from line %d", host, name, v, name, f.value, f.line)
	}
	if f.value == "" {
		*f = field{value: v, line: n}
	}
	return nil
}

// finish fills the defaults and checks every host has a rack, reporting the
// host named first when several lack one.
func (p *topoParser) finish() (*Topology, error) {
	drafts := make([]*draft, 0, len(p.hosts))
	for _, d := range p.hosts {
		drafts = append(drafts, d)
	}
	sort.Slice(drafts, func(i, j int) bool {
		a, b := drafts[i], drafts[j]
		return a.first < b.first || a.first == b.first && a.name < b.name
	})
	t := &Topology{hosts: make(map[string]Location, len(drafts))}
	for _, d := range drafts {
		rack := d.fields[keyRack].value
		if rack == "" {
			return nil, p.errorf(d.first, "host %s has no rack; give rack=NAME or list it on a \"RACK: HOST...\" line", d.name)
		}
		t.hosts[d.name] = Location{Rack: rack,
			Switch:      orDefault(d.fields[keySwitch].value, rack),
			FaultDomain: orDefault(d.fields[keyFaultDomain].value, rack)}
	}
	return t, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
