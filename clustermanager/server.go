package clustermanager

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/images"
)

// Server is the CM's HTTP/JSON API over the record.
type Server struct {
	store   *store.Store
	log     *slog.Logger
	auth    *authCache
	hub     *hub
	hb      *heartbeats
	metrics *metrics
	images  images.Store // base images found there are synced into the record
	tel     *telemetryService
	mux     *http.ServeMux
}

// NewServer wires the routes. Call Start to run its background loops.
func NewServer(st *store.Store, log *slog.Logger, imageStore images.Store, opts ...ServerOption) *Server {
	s := &Server{store: st, log: log, images: imageStore,
		auth: &authCache{m: map[string]cachedActor{}, now: time.Now},
		hub:  newHub(), metrics: newMetrics(), tel: newTelemetryService(Telemetry{}), mux: http.NewServeMux()}
	s.hb = newHeartbeats(st, log, s.metrics.hbFlush)
	for _, o := range opts {
		o(s)
	}
	s.routes()
	return s
}

// Start runs the change listener, the heartbeat writer and the telemetry
// sensors' readers until ctx ends. The returned function waits for them
// to stop.
func (s *Server) Start(ctx context.Context, hbEvery time.Duration) (wait func()) {
	n := 2 + len(s.tel.cfg.Sensors)
	done := make(chan struct{}, n)
	go func() { s.hub.listen(ctx, s.store.Pool(), s.log); done <- struct{}{} }()
	go func() { s.hb.run(ctx, hbEvery); done <- struct{}{} }()
	for i := range s.tel.cfg.Sensors {
		go func() { s.tel.run(ctx, i, s.log); done <- struct{}{} }()
	}
	return func() {
		for range n {
			<-done
		}
	}
}

// ServeHTTP makes the Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.metrics.instrument(s.log, pattern, h))
}

func (s *Server) routes() {
	s.clientRoutes()
	s.adminRoutes()
	s.nmRoutes()
	s.agentRoutes()
	s.telemetryRoutes()
	s.mux.Handle("GET /metrics", s.metrics.handler())
	s.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.Message{Message: "ok"})
	})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeErr(w, r, api.Errorf(api.CodeNotFound, "path", "no API call %s %s", r.Method, r.URL.Path))
	})
}

// mutating is the shape of every write handler: decode, call the store
// with the idempotency key, send the committed answer.
type mutating func(r *http.Request, a store.Actor, key string) (store.Answer, error)

func (s *Server) mutate(roles []api.Role, fn mutating) http.HandlerFunc {
	return s.allow(roles, func(w http.ResponseWriter, r *http.Request, a store.Actor) {
		key, err := idemKey(r)
		if err == nil {
			var ans store.Answer
			if ans, err = fn(r, a, key); err == nil {
				writeAnswer(w, ans)
				return
			}
		}
		s.writeErr(w, r, err)
	})
}

// reading is the shape of every read handler.
type reading func(r *http.Request, a store.Actor) (any, error)

func (s *Server) read(roles []api.Role, fn reading) http.HandlerFunc {
	return s.allow(roles, func(w http.ResponseWriter, r *http.Request, a store.Actor) {
		out, err := fn(r, a)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}
