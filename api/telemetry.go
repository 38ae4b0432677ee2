package api

// This file is the Resource Telemetry Service's wire types: getMetric and
// getAllMetrics. The metrics themselves are computed by package
// plugins/telemetry; its Types are the accepted type names (latency,
// bandwidth, switchCount, faultDomain, load).

// MetricValue is one metric from host From to host To.
type MetricValue struct {
	From  string       `json:"from"`
	To    string       `json:"to"`
	Type  string       `json:"type"`
	Value float64      `json:"value"`
	Unit  string       `json:"unit"`
	Parts []MetricPart `json:"parts,omitempty"` // the inputs of a derived value (load)
	Note  string       `json:"note,omitempty"`  // an assumption the value rests on
}

// MetricPart is one input of a derived MetricValue.
type MetricPart struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// MetricMatrix answers getAllMetrics: Values[i][j] is the metric from
// From[i] to To[j].
type MetricMatrix struct {
	Type   string          `json:"type"`
	From   []string        `json:"from"`
	To     []string        `json:"to"`
	Values [][]MetricValue `json:"values"`
}
