package clustermanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/plugins/telemetry/ganglia"
)

// This file is the Resource Telemetry Service: getMetric and
// getAllMetrics over a telemetry.View built per request from the
// topology and link model (read once, from config), the hosts' heartbeat
// stats in the record, and the last reading of each sensor (read in the
// background, never per request).

// Telemetry is what the metrics are computed from.
type Telemetry struct {
	Topology *telemetry.Topology // nil: none; network metrics then assume the worst
	Links    telemetry.LinkModel // zero: telemetry.DefaultLinkModel
	Sensors  []TelemetrySensor
}

// TelemetrySensor is a sensor read every Every, from Start on.
type TelemetrySensor struct {
	Name   string // the config key, for logs ("ganglia")
	Sensor telemetry.Sensor
	Every  time.Duration // <= 0: defaultSensorEvery
}

// defaultSensorEvery is [Telemetry] gangliaInterval's default.
const defaultSensorEvery = 30 * time.Second

// ServerOption changes a Server before its routes are wired.
type ServerOption func(*Server)

// WithTelemetry serves metrics from t; without it, from heartbeats only.
func WithTelemetry(t Telemetry) ServerOption {
	return func(s *Server) { s.tel = newTelemetryService(t) }
}

// sensorRegistry names the sensors [Telemetry] may configure: the key
// <name> holds the spec and <name>Interval the seconds between reads.
func sensorRegistry() *telemetry.Registry {
	r := telemetry.NewRegistry()
	if err := r.Register("ganglia", ganglia.Factory); err != nil {
		panic(err) // a duplicate name here is a bug
	}
	return r
}

// telemetryFromConfig reads [Telemetry]. Errors name the key.
func telemetryFromConfig(c *configs.Config) (Telemetry, error) {
	var t Telemetry
	if path := c.String("Telemetry", "topologyFile"); path != "" {
		topo, err := telemetry.LoadTopology(path)
		if err != nil {
			return t, fmt.Errorf("[Telemetry] topologyFile: %w", err)
		}
		t.Topology = topo
	}
	links, err := telemetry.ParseLinkModel(c.String("Telemetry", "linkModel"))
	if err != nil {
		return t, fmt.Errorf("[Telemetry] linkModel: %w", err)
	}
	t.Links = links
	reg := sensorRegistry()
	for _, name := range reg.Names() {
		spec := c.String("Telemetry", name)
		if spec == "" {
			continue
		}
		sensor, err := reg.New(name, spec)
		if err != nil {
			return t, fmt.Errorf("[Telemetry] %s: %w", name, err)
		}
		every, err := c.Duration("Telemetry", name+"Interval")
		if err == nil && every <= 0 {
			err = fmt.Errorf("[Telemetry] %sInterval must be more than 0 seconds", name)
		}
		if err != nil {
			return t, err
		}
		t.Sensors = append(t.Sensors, TelemetrySensor{Name: name, Sensor: sensor, Every: every})
	}
	return t, nil
}

// describe is what the CM logs at start about its telemetry.
func (t Telemetry) describe() []any {
	names := make([]string, len(t.Sensors))
	for i, sn := range t.Sensors {
		names[i] = fmt.Sprintf("%s every %s", sn.Name, sn.Every)
	}
	return []any{"topology_hosts", len(t.Topology.Hosts()), "sensors", strings.Join(names, ", ")}
}

// telemetryService holds the configured view and the sensors' last
// readings.
type telemetryService struct {
	cfg      Telemetry
	now      func() time.Time
	mu       sync.Mutex
	readings []map[string]telemetry.HostStats // by sensor index; nil until read
}

func newTelemetryService(t Telemetry) *telemetryService {
	t.Sensors = slices.Clone(t.Sensors)
	for i := range t.Sensors {
		if t.Sensors[i].Every <= 0 {
			t.Sensors[i].Every = defaultSensorEvery
		}
	}
	return &telemetryService{cfg: t, now: time.Now, readings: make([]map[string]telemetry.HostStats, len(t.Sensors))}
}

// run reads sensor i now and every interval until ctx ends. Failures are
// logged when they start and when they end; the last good reading stays
// until it is too old to be used.
func (ts *telemetryService) run(ctx context.Context, i int, log *slog.Logger) {
	sn := ts.cfg.Sensors[i]
	log = log.With("sensor", sn.Name)
	t := time.NewTicker(sn.Every)
	defer t.Stop()
	failing := false
	for {
		stats, err := sn.Sensor.Read(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			log.Warn("read sensor; keeping its last reading", "err", err)
		case err != nil:
			log.Debug("read sensor", "err", err)
		case failing:
			log.Info("sensor read again", "hosts", len(stats))
		default:
			log.Debug("sensor read", "hosts", len(stats))
		}
		failing = err != nil
		if err == nil {
			ts.mu.Lock()
			ts.readings[i] = stats
			ts.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// view is the metrics' input now: heartbeat stats younger than expiry,
// merged with each sensor's reading (whose stats may be one interval
// older, as the reading itself is).
func (ts *telemetryService) view(hosts []api.Host, expiry time.Duration) telemetry.View {
	now := ts.now()
	sources := []map[string]telemetry.HostStats{telemetry.Fresh(telemetry.FromHosts(hosts), now, expiry)}
	ts.mu.Lock()
	for i, r := range ts.readings {
		sources = append(sources, telemetry.Fresh(r, now, expiry+ts.cfg.Sensors[i].Every))
	}
	ts.mu.Unlock()
	return telemetry.View{Topology: ts.cfg.Topology, Stats: telemetry.MergeAll(sources...), Links: ts.cfg.Links}
}

// maxMetricPairs bounds one getAllMetrics answer.
const maxMetricPairs = 1 << 16

func (s *Server) telemetryRoutes() {
	readers := []api.Role{api.RoleUser, api.RoleAdmin, api.RoleAgent}
	s.handle("GET /v1/metric", s.read(readers, s.metric))
	s.handle("GET /v1/metrics", s.read(readers, s.allMetrics))
}

// metric is getMetric: ?from=h1&to=h2&type=latency.
func (s *Server) metric(r *http.Request, _ store.Actor) (any, error) {
	q, err := parseMetricQuery(r, false)
	if err != nil {
		return nil, err
	}
	v, err := s.metricView(r.Context())
	if err != nil {
		return nil, err
	}
	from, to := q.from[0], q.to[0]
	val, err := telemetry.Metric(from, to, q.typ, v)
	if err != nil {
		return nil, metricErr(err, q, v)
	}
	return wireValue(from, to, q.typ, val), nil
}

// allMetrics is getAllMetrics: ?from=h1,h2&to=h3,h4&type=load.
func (s *Server) allMetrics(r *http.Request, _ store.Actor) (any, error) {
	q, err := parseMetricQuery(r, true)
	if err != nil {
		return nil, err
	}
	v, err := s.metricView(r.Context())
	if err != nil {
		return nil, err
	}
	m, err := telemetry.AllMetrics(q.from, q.to, q.typ, v)
	if err != nil {
		return nil, metricErr(err, q, v)
	}
	out := api.MetricMatrix{Type: string(q.typ), From: q.from, To: q.to, Values: make([][]api.MetricValue, len(m))}
	for i, row := range m {
		out.Values[i] = make([]api.MetricValue, len(row))
		for j, val := range row {
			out.Values[i][j] = wireValue(q.from[i], q.to[j], q.typ, val)
		}
	}
	return out, nil
}

func (s *Server) metricView(ctx context.Context) (telemetry.View, error) {
	hosts, err := s.store.Hosts(ctx)
	if err != nil {
		return telemetry.View{}, err
	}
	return s.tel.view(hosts, s.store.Limits().ExpireHostTime), nil
}

type metricQuery struct {
	from, to []string
	typ      telemetry.Type
}

// parseMetricQuery reads from, to (one host each, or comma-separated
// lists when lists) and type.
func parseMetricQuery(r *http.Request, lists bool) (metricQuery, error) {
	q := r.URL.Query()
	var out metricQuery
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"from", &out.from}, {"to", &out.to}} {
		*f.dst = hostList(q[f.name])
		switch {
		case len(*f.dst) == 0 && lists:
			return out, api.Errorf(api.CodeInvalid, f.name, "%s is required: comma-separated host names", f.name)
		case len(*f.dst) == 0:
			return out, api.Errorf(api.CodeInvalid, f.name, "%s is required: a host name", f.name)
		case len(*f.dst) > 1 && !lists:
			return out, api.Errorf(api.CodeInvalid, f.name,
				"%s names %d hosts; getMetric takes one (getAllMetrics, GET /v1/metrics, takes lists)", f.name, len(*f.dst))
		}
	}
	if n := len(out.from) * len(out.to); n > maxMetricPairs {
		return out, api.Errorf(api.CodeInvalid, "to", "from and to make %d pairs; accepted: at most %d per request",
			n, maxMetricPairs)
	}
	typ := q.Get("type")
	if typ == "" {
		return out, api.Errorf(api.CodeInvalid, "type", "type is required; accepted: %s", metricTypeNames())
	}
	t, err := telemetry.ParseType(typ)
	if err != nil {
		return out, api.Errorf(api.CodeInvalid, "type", "%v", err)
	}
	out.typ = t
	return out, nil
}

// hostList splits the values of a parameter at commas, dropping empty
// names; repeating the parameter works too.
func hostList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				out = append(out, h)
			}
		}
	}
	return out
}

func metricTypeNames() string {
	names := make([]string, len(telemetry.Types))
	for i, t := range telemetry.Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// metricErr turns the telemetry package's errors into API errors naming
// the parameter that holds the host in question.
func metricErr(err error, q metricQuery, v telemetry.View) error {
	switch {
	case errors.Is(err, telemetry.ErrUnknownType):
		return api.Errorf(api.CodeInvalid, "type", "%v", err)
	case errors.Is(err, telemetry.ErrNoStats):
		return api.Errorf(api.CodeNotFound, "to", "%v: no heartbeat from its node manager within "+
			"expireHostTime, and no telemetry sensor reports it", err)
	case errors.Is(err, telemetry.ErrUnknownHost):
		field := "to"
		if q.typ != telemetry.Load && !allKnown(v, q.from) {
			field = "from"
		}
		return api.Errorf(api.CodeNotFound, field, "%v", err)
	}
	return err
}

// allKnown says whether every host is in the topology or the stats, as
// the telemetry package requires of the hosts of network metrics.
func allKnown(v telemetry.View, hosts []string) bool {
	for _, h := range hosts {
		_, inTopo := v.Topology.Locate(h)
		if _, inStats := v.Stats[h]; !inTopo && !inStats {
			return false
		}
	}
	return true
}

func wireValue(from, to string, t telemetry.Type, v telemetry.Value) api.MetricValue {
	out := api.MetricValue{From: from, To: to, Type: string(t), Value: v.Value, Unit: v.Unit, Note: v.Note}
	for _, p := range v.Parts {
		out.Parts = append(out.Parts, api.MetricPart{Name: p.Name, Value: p.Value, Unit: p.Unit})
	}
	return out
}
