package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/api"
)

const (
	latencyR1aR2a = `{"from":"r1a","to":"r2a","type":"latency","value":0.9,"unit":"ms"}`
	loadR1a       = `{"from":"r2a","to":"r1a","type":"load","value":0.75,"unit":"load/CPU",
		"parts":[{"name":"load1","value":3,"unit":"load"},{"name":"cpus","value":4,"unit":"CPUs"},
		{"name":"freeMemory","value":900,"unit":"MiB"}]}`
	matrix = `{"type":"bandwidth","from":["r2a","r1a"],"to":["r1b","x9"],"values":[
		[{"from":"r2a","to":"r1b","type":"bandwidth","value":500,"unit":"MB/s"},
		 {"from":"r2a","to":"x9","type":"bandwidth","value":500,"unit":"MB/s","note":"host x9 is not in the topology; assumed the least favourable value"}],
		[{"from":"r1a","to":"r1b","type":"bandwidth","value":1000,"unit":"MB/s"},
		 {"from":"r1a","to":"x9","type":"bandwidth","value":500,"unit":"MB/s","note":"host x9 is not in the topology; assumed the least favourable value"}]]}`
)

func TestMetricVerbs(t *testing.T) {
	tests := []struct {
		line string
		xs   []exchange
		want string // stdout, exactly (leading newline dropped)
	}{
		{line: "getMetric --from r1a --to r2a --type latency",
			xs: []exchange{{method: "GET", uri: "/v1/metric?from=r1a&to=r2a&type=latency", reply: latencyR1aR2a}},
			want: `
from to  type    value unit parts note
--------------------------------------
r1a  r2a latency 0.9   ms
`},
		{line: "getMetric --from r2a --to r1a --type LOAD",
			xs: []exchange{{method: "GET", uri: "/v1/metric?from=r2a&to=r1a&type=load", reply: loadR1a}},
			want: `
from to  type value unit     parts                         note
---------------------------------------------------------------
r2a  r1a load 0.75  load/CPU load1=3,cpus=4,freeMemory=900
`},
		{line: "getMetric --from r1a --to r1a --type switchcount --hide-parts --hide-note",
			xs: []exchange{{method: "GET", uri: "/v1/metric?from=r1a&to=r1a&type=switchCount",
				reply: `{"from":"r1a","to":"r1a","type":"switchCount","value":0,"unit":"switches"}`}},
			want: "from to  type        value unit\n" +
				"-----------------------------------\n" +
				"r1a  r1a switchCount 0     switches\n"},
		{line: "getAllMetrics --from r2a,r1a --to r1b,x9 --type bandwidth --hide-parts",
			xs: []exchange{{method: "GET", uri: "/v1/metrics?from=r2a%2Cr1a&to=r1b%2Cx9&type=bandwidth", reply: matrix}},
			want: `
from to  type      value unit note
------------------------------------------------------------------------------------------------
r1a  r1b bandwidth 1000  MB/s
r1a  x9  bandwidth 500   MB/s host x9 is not in the topology; assumed the least favourable value
r2a  r1b bandwidth 500   MB/s
r2a  x9  bandwidth 500   MB/s host x9 is not in the topology; assumed the least favourable value
`},
		{line: "getAllMetrics --from=r1a --to r1a, --type faultDomain --hide-all --show-value",
			xs: []exchange{{method: "GET", uri: "/v1/metrics?from=r1a&to=r1a&type=faultDomain",
				reply: `{"type":"faultDomain","from":["r1a"],"to":["r1a"],"values":[[{"from":"r1a","to":"r1a","type":"faultDomain","value":0.1234567891,"unit":"different (0/1)"}]]}`}},
			want: "value\n--------\n0.123457\n"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r := runCM(t, tt.line, tt.xs...)
			if r.code != 0 || r.out != strings.TrimPrefix(tt.want, "\n") {
				t.Errorf("%q: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", tt.line, r.code, r.err, r.out, tt.want)
			}
		})
	}
}

func TestMetricVerbsJSON(t *testing.T) {
	r := runCM(t, "getMetric --from r2a --to r1a --type load --json",
		exchange{method: "GET", uri: "/v1/metric?from=r2a&to=r1a&type=load", reply: loadR1a})
	var v api.MetricValue
	if err := json.Unmarshal([]byte(r.out), &v); err != nil || v.Value != 0.75 || len(v.Parts) != 3 || v.Parts[1].Unit != "CPUs" {
		t.Errorf("getMetric --json: %+v %v\n%s", v, err, r.out)
	}
	r = runCM(t, "getAllMetrics --from r2a,r1a --to r1b,x9 --type bandwidth --json",
		exchange{method: "GET", uri: "/v1/metrics?from=r2a%2Cr1a&to=r1b%2Cx9&type=bandwidth", reply: matrix})
	var m api.MetricMatrix
	if err := json.Unmarshal([]byte(r.out), &m); err != nil || len(m.Values) != 2 || m.Values[0][1].To != "x9" ||
		m.Values[1][0].Value != 1000 {
		t.Errorf("getAllMetrics --json keeps the matrix: %+v %v\n%s", m, err, r.out)
	}
}

func TestMetricVerbErrors(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"getMetric --from r1a --to r2a --type speed",
			`--type "speed" is not accepted; accepted: latency, bandwidth, switchCount, faultDomain, load`},
		{"getMetric --from r1a --to r2a", "missing required argument --type"},
		{"getMetric --from r1a,r1b --to r2a --type latency", "getMetric takes one host in --from"},
		{"getMetric --from r1a --to , --type latency", "getMetric takes one host in --to"},
		{"getAllMetrics --from , --to r2a --type load", "--from names no host"},
		{"getAllMetrics --from r1a --type load", "missing required argument --to"},
	} {
		r := runCM(t, tt.line)
		if r.code != 2 || !strings.Contains(r.err, tt.want) || r.out != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tt.line, r.code, r.err, tt.want)
		}
	}
	r := runCM(t, "getMetric --from r1a --to ghost --type latency", exchange{method: "GET",
		uri: "/v1/metric?from=r1a&to=ghost&type=latency", status: 404,
		reply: `{"code":"not_found","field":"to","message":"latency from \"r1a\" to \"ghost\": unknown host \"ghost\""}`})
	if r.code != 1 || r.err != "tashi: getMetric: latency from \"r1a\" to \"ghost\": unknown host \"ghost\" (not_found)\n" {
		t.Errorf("unknown host: exit %d, stderr %q", r.code, r.err)
	}
}

func TestMetricVerbHelp(t *testing.T) {
	var out strings.Builder
	a := &app{stdout: &out, stderr: &out, verbs: builtinVerbs(), env: func(string) string { return "" }}
	if code := a.main(t.Context(), []string{"getAllMetrics", "--help"}); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	for _, want := range []string{
		"usage: tashi getAllMetrics --from FROM --to TO --type TYPE",
		"required, latency|bandwidth|switchCount|faultDomain|load",
		"load (the --to host's one-minute load per CPU; --from is ignored)",
		"columns: from to type value unit parts note",
		"tashi getAllMetrics --from node1,node2 --to node3,node4 --type bandwidth",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("getAllMetrics --help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := a.main(t.Context(), []string{"help"}); code != 0 || !strings.Contains(out.String(), "  getMetric ") {
		t.Errorf("tashi help does not list getMetric (exit %d):\n%s", code, out.String())
	}
}
