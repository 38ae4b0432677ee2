package ganglia

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseFixture(t *testing.T, name string) []Host {
	t.Helper()
	hosts, err := Parse(strings.NewReader(string(readFixture(t, name))))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return hosts
}

// TestParseGmond reads XML captured from gmond 3.7.2 on this project's
// test machine.
func TestParseGmond(t *testing.T) {
	hosts := parseFixture(t, "gmond.xml")
	if len(hosts) != 1 {
		t.Fatalf("got %d hosts, want 1", len(hosts))
	}
	h := hosts[0]
	if h.Name != "localhost" || h.IP != "127.0.0.1" || h.Cluster != "tashi-test" ||
		!h.Reported.Equal(time.Unix(1795264074, 0)) {
		t.Errorf("host = %+v", h)
	}
	want := map[string]Metric{
		"load_one":  {Name: "load_one", Val: "0.28", Type: "float", Units: " "},
		"cpu_num":   {Name: "cpu_num", Val: "2", Type: "uint16", Units: "CPUs"},
		"mem_free":  {Name: "mem_free", Val: "21333620", Type: "float", Units: "KB"},
		"mem_total": {Name: "mem_total", Val: "24684096", Type: "float", Units: "KB"},
		"bytes_in":  {Name: "bytes_in", Val: "2388.54", Type: "float", Units: "bytes/sec"},
		"bytes_out": {Name: "bytes_out", Val: "2299.74", Type: "float", Units: "bytes/sec"},
	}
	if len(h.Metrics) != len(want) {
		t.Errorf("got %d metrics, want %d", len(h.Metrics), len(want))
	}
	for name, m := range want {
		if h.Metrics[name] != m {
			t.Errorf("metric %s = %+v, want %+v", name, h.Metrics[name], m)
		}
	}
}

// TestParseGmetad reads nested GRIDs with summary elements and an
// ISO-8859-1 cluster name.
func TestParseGmetad(t *testing.T) {
	hosts := parseFixture(t, "gmetad.xml")
	want := []struct{ name, ip, cluster string }{
		{"node1.example.org", "10.0.1.1", "rack1"},
		{"node2.example.org", "10.0.1.2", "rack1"},
		{"node3", "10.0.2.3", "Zürich"},
		{"node4", "10.0.2.4", "Zürich"},
	}
	if len(hosts) != len(want) {
		t.Fatalf("got %d hosts, want %d", len(hosts), len(want))
	}
	for i, w := range want {
		h := hosts[i]
		if h.Name != w.name || h.IP != w.ip || h.Cluster != w.cluster || h.TN != 4 {
			t.Errorf("host %d = %s %s %q TN %d, want %v", i, h.Name, h.IP, h.Cluster, h.TN, w)
		}
	}
	if m := hosts[0].Metrics["load_one"]; m.Val != "1.50" || m.TN != 4 {
		t.Errorf("node1 load_one = %+v", m)
	}
}

func TestParseShapes(t *testing.T) {
	tests := []struct {
		name, xml string
		hosts     int
		cluster   string
	}{
		{"hosts without cluster", `<GANGLIA_XML><HOST NAME="a" REPORTED="1"/></GANGLIA_XML>`, 1, ""},
		{"host after a closed cluster", `<GANGLIA_XML><CLUSTER NAME="c"></CLUSTER><HOST NAME="a"/></GANGLIA_XML>`, 1, ""},
		{"no hosts", `<?xml version="1.0"?><GANGLIA_XML VERSION="3"></GANGLIA_XML>`, 0, ""},
		{"trailing bytes ignored", `<GANGLIA_XML><CLUSTER NAME="c"><HOST NAME="a"/></CLUSTER></GANGLIA_XML>garbage<`, 1, "c"},
		{"utf-8 declared", `<?xml version="1.0" encoding="UTF-8"?><GANGLIA_XML><CLUSTER NAME="ü"><HOST NAME="a"/></CLUSTER></GANGLIA_XML>`, 1, "ü"},
	}
	for _, tt := range tests {
		hosts, err := Parse(strings.NewReader(tt.xml))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(hosts) != tt.hosts || (tt.hosts > 0 && hosts[0].Cluster != tt.cluster) {
			t.Errorf("%s: got %+v", tt.name, hosts)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, xml string
		is        error
		want      string
	}{
		{"empty", "", ErrNotGanglia, "no GANGLIA_XML"},
		{"other root", "<html><HOST NAME='a'/></html>", ErrNotGanglia, "root element is html"},
		{"truncated", `<GANGLIA_XML><CLUSTER NAME="c"><HOST NAME="a">`, nil, "unexpected EOF"},
		{"host without name", `<GANGLIA_XML><CLUSTER NAME="c"><HOST IP="1.2.3.4"/></CLUSTER></GANGLIA_XML>`, nil, `HOST without NAME in cluster "c"`},
		{"bad reported", `<GANGLIA_XML><HOST NAME="a" REPORTED="soon"/></GANGLIA_XML>`, nil, `host "a"`},
		{"bad encoding", `<?xml version="1.0" encoding="UTF-16"?><GANGLIA_XML/>`, nil, `unsupported xml encoding "UTF-16"`},
		{"not xml", "gmond: access denied\n", ErrNotGanglia, ""},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.xml))
		if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %v with %q", tt.name, err, tt.is, tt.want)
		}
	}
}

// FuzzParse: no panics; parsed hosts have names, metrics are keyed by
// their names, and Convert yields only finite, non-negative numbers.
func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer stalls minimizing inputs of several KB
	// (golang/go#48820), so the DTD and EXTRA_DATA are cut out.
	f.Add(compact(readFixture(f, "gmond.xml")))
	f.Add(compact(readFixture(f, "gmetad.xml")))
	f.Add([]byte(`<GANGLIA_XML><HOST NAME="a"><METRIC NAME="load_one" VAL="NaN"/></HOST></GANGLIA_XML>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hosts, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, h := range hosts {
			if h.Name == "" {
				t.Fatalf("host without a name: %+v", h)
			}
			for k, m := range h.Metrics {
				if k != m.Name {
					t.Fatalf("metric keyed %q is named %q", k, m.Name)
				}
			}
		}
		stats, _ := Convert(hosts, Match{})
		for name, s := range stats {
			if !(s.Load1 >= 0 && s.BytesInPerSec >= 0 && s.BytesOutPerSec >= 0 &&
				s.CPUs >= 0 && s.FreeMemoryMiB >= 0 && s.TotalMemoryMiB >= 0) ||
				s.Load1 > maxNumber || s.BytesInPerSec > maxNumber || s.BytesOutPerSec > maxNumber {
				t.Fatalf("host %q: bad stats %+v", name, s)
			}
		}
	})
}

var (
	doctype   = regexp.MustCompile(`(?s)<!DOCTYPE.*?\]>`)
	extraData = regexp.MustCompile(`(?s)<EXTRA_DATA>.*?</EXTRA_DATA>\n?`)
)

// compact cuts the DTD and the metrics' EXTRA_DATA out of a fixture.
func compact(xml []byte) []byte {
	return extraData.ReplaceAll(doctype.ReplaceAll(xml, nil), nil)
}

func TestCompactSeedsParse(t *testing.T) {
	for _, name := range []string{"gmond.xml", "gmetad.xml"} {
		full := parseFixture(t, name)
		small, err := Parse(strings.NewReader(string(compact(readFixture(t, name)))))
		if err != nil || len(small) != len(full) || len(small[0].Metrics) != len(full[0].Metrics) {
			t.Errorf("compact %s: %d hosts, %v; want the %d hosts of the full fixture", name, len(small), err, len(full))
		}
	}
}
