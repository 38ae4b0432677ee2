package clustermanager

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
)

// tokenCacheTTL bounds how long a removed user's token keeps working on
// one CM replica; it outlasts the heartbeat interval so that node
// managers' heartbeats hit the cache.
const tokenCacheTTL = 30 * time.Second

// authCache remembers recent token lookups so that heartbeats and bursts
// of requests do not each cost a database round trip.
type authCache struct {
	mu  sync.Mutex
	m   map[string]cachedActor
	now func() time.Time
}

type cachedActor struct {
	actor store.Actor
	at    time.Time
}

func (c *authCache) get(tok string) (store.Actor, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[tok]
	if !ok || c.now().Sub(e.at) > tokenCacheTTL {
		return store.Actor{}, false
	}
	return e.actor, true
}

func (c *authCache) put(tok string, a store.Actor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100000 {
		clear(c.m)
	}
	c.m[tok] = cachedActor{actor: a, at: c.now()}
}

type actorKey struct{}

// authenticate resolves the bearer token to an actor.
func (s *Server) authenticate(r *http.Request) (store.Actor, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return store.Actor{}, api.Errorf(api.CodeUnauthenticated, "Authorization",
			"no token; send Authorization: Bearer <token> (the CLI reads [Client] token or TASHI_TOKEN)")
	}
	if a, ok := s.auth.get(tok); ok {
		return a, nil
	}
	a, err := s.store.Authenticate(r.Context(), tok)
	if err != nil {
		return a, err
	}
	s.auth.put(tok, a)
	return a, nil
}

// allow wraps h so that only the given roles may call it.
func (s *Server) allow(roles []api.Role, h func(http.ResponseWriter, *http.Request, store.Actor)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authenticate(r)
		if err != nil {
			s.writeErr(w, r, err)
			return
		}
		if !slices.Contains(roles, a.Role) {
			s.writeErr(w, r, api.Errorf(api.CodeForbidden, "Authorization",
				"a %s may not call %s %s", a.Role, r.Method, r.URL.Path))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, a)), a)
	}
}

var (
	users  = []api.Role{api.RoleUser, api.RoleAdmin}
	admins = []api.Role{api.RoleAdmin}
	nms    = []api.Role{api.RoleNodeManager}
	agents = []api.Role{api.RoleAgent}
)
