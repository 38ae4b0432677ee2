package clustermanager

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
)

// nmRoutes are the node managers' calls.
func (s *Server) nmRoutes() {
	s.handle("POST /v1/nm/register", s.read(nms, func(r *http.Request, a store.Actor) (any, error) {
		var req api.RegisterRequest
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return s.store.Register(r.Context(), a, req)
	}))
	s.handle("POST /v1/nm/heartbeat", s.read(nms, func(r *http.Request, a store.Actor) (any, error) {
		var hb api.Heartbeat
		if err := decode(r, &hb); err != nil {
			return nil, err
		}
		return api.Message{Message: "ok"}, s.hb.add(r.Context(), hb)
	}))
	s.handle("POST /v1/nm/vmStateChange", s.mutate(nms, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var sc api.StateChange
		if err := decode(r, &sc); err != nil {
			return store.Answer{}, err
		}
		return s.store.StateChange(r.Context(), a, key, sc)
	}))
	s.handle("GET /v1/nm/view", s.read([]api.Role{api.RoleNodeManager, api.RoleAgent, api.RoleAdmin}, s.nmView))
}

// nmView answers the node managers' view; with index > 0 it first waits
// (up to wait, default 30 s) for a change at or after index.
func (s *Server) nmView(r *http.Request, _ store.Actor) (any, error) {
	q := r.URL.Query().Get("index")
	idx, err := strconv.ParseUint(q, 10, 64)
	if q != "" && err != nil {
		return nil, api.Errorf(api.CodeInvalid, "index", "index %q is not valid; accepted: the index of your last view, or 0", q)
	}
	wait, err := waitParam(r)
	if err != nil {
		return nil, err
	}
	if idx > 0 {
		if wait == 0 {
			wait = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		s.hub.wait(ctx, idx)
		cancel()
	}
	return s.store.NMView(r.Context())
}

// agentRoutes are the scheduler agents' calls.
func (s *Server) agentRoutes() {
	s.handle("GET /v1/agent/snapshot", s.read(agents, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.Snapshot(r.Context())
	}))
	s.handle("GET /v1/agent/watch", s.read(agents, s.watch))
	s.handle("POST /v1/agent/plans", s.read(agents, func(r *http.Request, a store.Actor) (any, error) {
		var p api.Plan
		if err := decode(r, &p); err != nil {
			return nil, err
		}
		return s.store.ApplyPlan(r.Context(), a, p)
	}))
	s.handle("POST /v1/agent/claims", s.read(agents, func(r *http.Request, a store.Actor) (any, error) {
		var c api.ClaimRequest
		if err := decode(r, &c); err != nil {
			return nil, err
		}
		return s.store.Claim(r.Context(), a, c)
	}))
	s.handle("POST /v1/agent/claims/{id}/finish", s.mutate(agents, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var o api.ClaimOutcome
		if err := decode(r, &o); err != nil {
			return store.Answer{}, err
		}
		return s.store.FinishClaim(r.Context(), a, key, r.PathValue("id"), o)
	}))
	s.handle("POST /v1/agent/explanations", s.read(agents, func(r *http.Request, _ store.Actor) (any, error) {
		var xs []api.Explanation
		if err := decode(r, &xs); err != nil {
			return nil, err
		}
		return api.Message{Message: "recorded"}, s.store.Explain(r.Context(), xs)
	}))
	s.handle("POST /v1/agent/instances/{id}/release", s.mutate(agents, func(r *http.Request, a store.Actor, _ string) (store.Answer, error) {
		var v struct {
			Version int64 `json:"version"`
		}
		if err := decode(r, &v); err != nil {
			return store.Answer{}, err
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return store.Answer{}, api.Errorf(api.CodeInvalid, "id", "instance id %q is not a number", r.PathValue("id"))
		}
		return s.store.Release(r.Context(), a, id, v.Version)
	}))
	s.handle("GET /v1/agent/calls", s.read(agents, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.PendingCalls(r.Context())
	}))
	s.handle("POST /v1/agent/calls/{id}", s.mutate(agents, func(r *http.Request, a store.Actor, _ string) (store.Answer, error) {
		var c api.VMMCall
		if err := decode(r, &c); err != nil {
			return store.Answer{}, err
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return store.Answer{}, api.Errorf(api.CodeInvalid, "id", "call id %q is not a number", r.PathValue("id"))
		}
		return s.store.AnswerCall(r.Context(), a, id, c.Status, c.Result)
	}))
	s.handle("DELETE /v1/agent/claims/{id}", s.read(agents, func(r *http.Request, _ store.Actor) (any, error) {
		return api.Message{Message: "released"}, s.store.ReleaseClaim(r.Context(), r.PathValue("id"))
	}))
}

// watch blocks until a change the caller's snapshot may have missed is
// committed, or ?wait= runs out (default 30 s).
func (s *Server) watch(r *http.Request, _ store.Actor) (any, error) {
	idx, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "index", "index %q is not valid; accepted: the index of your last snapshot", r.URL.Query().Get("index"))
	}
	wait, err := waitParam(r)
	if err != nil {
		return nil, err
	}
	if wait == 0 {
		wait = 30 * time.Second
	}
	s.metrics.watches.Inc()
	defer s.metrics.watches.Dec()
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	changed := s.hub.wait(ctx, idx)
	now, err := s.store.CurrentIndex(r.Context())
	return api.WatchResult{Index: now, Changed: changed}, err
}
