package ganglia

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// Host is one HOST element.
type Host struct {
	Name     string
	IP       string
	Cluster  string    // the enclosing CLUSTER's NAME; "" if none
	Reported time.Time // when gmond last heard from the host
	TN       int       // seconds since then, as of the dump
	Metrics  map[string]Metric
}

// Metric is one METRIC element; Val is kept as written.
type Metric struct {
	Name, Val, Type, Units string
	TN                     int // seconds since the value was reported
}

type hostXML struct {
	Name     string      `xml:"NAME,attr"`
	IP       string      `xml:"IP,attr"`
	Reported int64       `xml:"REPORTED,attr"`
	TN       int         `xml:"TN,attr"`
	Metrics  []metricXML `xml:"METRIC"`
}

type metricXML struct {
	Name  string `xml:"NAME,attr"`
	Val   string `xml:"VAL,attr"`
	Type  string `xml:"TYPE,attr"`
	Units string `xml:"UNITS,attr"`
	TN    int    `xml:"TN,attr"`
}

// Parse reads one Ganglia XML document up to the end of its GANGLIA_XML
// element and returns its hosts in document order.
func Parse(r io.Reader) ([]Host, error) {
	d := xml.NewDecoder(r)
	d.CharsetReader = charsetReader
	p := parser{d: d}
	if err := p.run(); err != nil {
		return nil, fmt.Errorf("parse ganglia xml: %w", err)
	}
	return p.hosts, nil
}

type parser struct {
	d        *xml.Decoder
	root     bool     // inside GANGLIA_XML
	clusters []string // enclosing CLUSTER names
	hosts    []Host
}

func (p *parser) run() error {
	for {
		tok, err := p.d.Token()
		if err == io.EOF {
			return fmt.Errorf("%w: no GANGLIA_XML element", ErrNotGanglia)
		}
		if err != nil {
			return err
		}
		done, err := p.token(tok)
		if done || err != nil {
			return err
		}
	}
}

// token handles one token; done is true at the end of GANGLIA_XML.
func (p *parser) token(tok xml.Token) (done bool, err error) {
	switch t := tok.(type) {
	case xml.StartElement:
		return false, p.start(t)
	case xml.EndElement:
		if t.Name.Local == "CLUSTER" && len(p.clusters) > 0 {
			p.clusters = p.clusters[:len(p.clusters)-1]
		}
		return t.Name.Local == "GANGLIA_XML", nil
	}
	return false, nil
}

func (p *parser) start(t xml.StartElement) error {
	if !p.root {
		if t.Name.Local != "GANGLIA_XML" {
			return fmt.Errorf("%w: root element is %s", ErrNotGanglia, t.Name.Local)
		}
		p.root = true
		return nil
	}
	switch t.Name.Local {
	case "CLUSTER":
		p.clusters = append(p.clusters, attr(t, "NAME"))
	case "HOST":
		return p.host(t)
	}
	return nil
}

func (p *parser) host(t xml.StartElement) error {
	var hx hostXML
	if err := p.d.DecodeElement(&hx, &t); err != nil {
		return fmt.Errorf("host %q: %w", attr(t, "NAME"), err)
	}
	cluster := ""
	if n := len(p.clusters); n > 0 {
		cluster = p.clusters[n-1]
	}
	if hx.Name == "" {
		return fmt.Errorf("HOST without NAME in cluster %q", cluster)
	}
	h := Host{Name: hx.Name, IP: hx.IP, Cluster: cluster, Reported: time.Unix(hx.Reported, 0).UTC(),
		TN: hx.TN, Metrics: make(map[string]Metric, len(hx.Metrics))}
	for _, m := range hx.Metrics {
		h.Metrics[m.Name] = Metric{Name: m.Name, Val: m.Val, Type: m.Type, Units: m.Units, TN: m.TN}
	}
	p.hosts = append(p.hosts, h)
	return nil
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
