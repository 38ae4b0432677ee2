package cli

import (
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/plugins/telemetry"
)

// This file is the Resource Telemetry Service's verbs, getMetric and
// getAllMetrics; both print rows of api.MetricValue (see metricView).

// typeHelp says what each metric type measures.
const typeHelp = "latency (ms), bandwidth (MB/s), switchCount (0 same host, 1 same switch, " +
	"3 through the core), faultDomain (0 same fault domain, 1 different) or load " +
	"(the --to host's one-minute load per CPU; --from is ignored)"

func telemetryVerbs() []*verb {
	values := rowsOf[api.MetricValue]()
	typeArg := arg{name: "type", kind: kChoice, required: true, choices: metricTypes(), help: typeHelp}
	return []*verb{
		{name: "getMetric", summary: "print one metric from a host to another (latency, bandwidth, " +
			"switchCount, faultDomain, load)", rows: values, run: runGetMetric, check: oneHostEach,
			args: []arg{required("from", "host name"), required("to", "host name"), typeArg},
			examples: []string{"tashi getMetric --from node1 --to node7 --type latency",
				"tashi getMetric --from node1 --to node7 --type load --json"}},
		{name: "getAllMetrics", summary: "print a metric from every host of a list to every host of another",
			rows: values, run: runGetAllMetrics, check: hostLists,
			args: []arg{required("from", "comma-separated host names"),
				required("to", "comma-separated host names"), typeArg},
			examples: []string{"tashi getAllMetrics --from node1,node2 --to node3,node4 --type bandwidth",
				"tashi getAllMetrics --from node1 --to node1,node2,node3 --type load --hide-parts"}},
	}
}

func metricTypes() []string {
	out := make([]string, len(telemetry.Types))
	for i, t := range telemetry.Types {
		out[i] = string(t)
	}
	return out
}

func oneHostEach(v vals) error {
	for _, name := range []string{"from", "to"} {
		if hosts := splitList(v.str(name)); len(hosts) != 1 {
			return usagef("getMetric takes one host in --%s (got %q); getAllMetrics takes lists", name, v.str(name))
		}
	}
	return nil
}

func hostLists(v vals) error {
	for _, name := range []string{"from", "to"} {
		if len(splitList(v.str(name))) == 0 {
			return usagef("--%s names no host; it takes comma-separated host names", name)
		}
	}
	return nil
}

func runGetMetric(r *req) (output, error) {
	from, to := splitList(r.v.str("from")), splitList(r.v.str("to"))
	m, err := r.cm.Metric(r.ctx, from[0], to[0], r.v.str("type"))
	return table(m, []api.MetricValue{m}, err)
}

func runGetAllMetrics(r *req) (output, error) {
	m, err := r.cm.AllMetrics(r.ctx, splitList(r.v.str("from")), splitList(r.v.str("to")), r.v.str("type"))
	var rows []api.MetricValue
	for _, row := range m.Values {
		rows = append(rows, row...)
	}
	return table(m, rows, err)
}

// metricView shows a value rounded to six decimals and its parts as
// name=value.
var metricView = view{
	defaults: []string{"from", "to", "type", "value", "unit", "parts", "note"},
	computed: []column{
		{name: "value", cell: func(r reflect.Value) string {
			return formatMetric(r.Interface().(api.MetricValue).Value)
		}},
		{name: "parts", cell: func(r reflect.Value) string {
			ps := r.Interface().(api.MetricValue).Parts
			words := make([]string, len(ps))
			for i, p := range ps {
				words[i] = p.Name + "=" + formatMetric(p.Value)
			}
			return strings.Join(words, ",")
		}},
	},
}

func formatMetric(x float64) string {
	return strconv.FormatFloat(math.Round(x*1e6)/1e6, 'f', -1, 64)
}
