package clustermanager

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the CM's Prometheus series, on their own registry.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	watches  prometheus.Gauge
	hbFlush  prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tashi_cm_requests_total", Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tashi_cm_request_seconds", Help: "API request latency by route.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}, []string{"route"}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tashi_cm_watches", Help: "Watch requests now waiting.",
		}),
		hbFlush: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tashi_cm_heartbeat_flush_seconds", Help: "Time to write one batch of heartbeats.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.watches, m.hbFlush,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusWriter remembers the status code for metrics and logs.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// instrument counts, times and logs (at debug level) each request under
// its route pattern.
func (m *metrics) instrument(log *slog.Logger, route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: 200}
		h.ServeHTTP(sw, r)
		took := time.Since(start)
		m.latency.WithLabelValues(route).Observe(took.Seconds())
		m.requests.WithLabelValues(route, fmt.Sprint(sw.code)).Inc()
		log.Debug("request", "route", route, "path", r.URL.Path, "status", sw.code, "took_ms", float64(took.Microseconds())/1000)
	})
}
