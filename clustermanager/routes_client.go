package clustermanager

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
)

func (s *Server) clientRoutes() {
	s.handle("POST /v1/instances", s.mutate(users, s.createVM))
	s.handle("POST /v1/groups", s.mutate(users, s.createMany))
	s.handle("POST /v1/instances/{ref}/{action}", s.mutate(users, s.act))
	s.handle("POST /v1/instances/{ref}/migrate", s.mutate(users, s.migrate))
	s.handle("POST /v1/instances/{ref}/vmmSpecificCall", s.mutate(users, s.vmmCall))
	s.handle("POST /v1/groups/{basename}/{action}", s.mutate(users, s.actMany))
	s.handle("GET /v1/instances", s.read(users, s.instances))
	s.handle("GET /v1/instances/{ref}", s.read(users, s.instance))
	s.handle("GET /v1/instances/{ref}/events", s.read(users, s.events))
	s.handle("GET /v1/calls/{id}", s.read([]api.Role{api.RoleUser, api.RoleAdmin, api.RoleAgent}, s.call))
	s.handle("GET /v1/layout", s.read(users, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.Layout(r.Context())
	}))
	s.handle("GET /v1/hosts", s.read(users, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.Hosts(r.Context())
	}))
	s.handle("GET /v1/networks", s.read(users, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.Networks(r.Context())
	}))
	s.handle("GET /v1/users", s.read(users, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.Users(r.Context())
	}))
	s.handle("GET /v1/images", s.read(users, s.getImages))
	s.handle("GET /v1/slots", s.read(users, s.slots))
}

func (s *Server) createVM(r *http.Request, a store.Actor, key string) (store.Answer, error) {
	var spec api.InstanceSpec
	if err := decode(r, &spec); err != nil {
		return store.Answer{}, err
	}
	ans, err := s.store.CreateVM(r.Context(), a, key, spec)
	if api.IsCode(err, api.CodeNotFound) && s.syncImages(r.Context()) > 0 {
		ans, err = s.store.CreateVM(r.Context(), a, key, spec) // a new image file appeared
	}
	return ans, err
}

func (s *Server) createMany(r *http.Request, a store.Actor, key string) (store.Answer, error) {
	var m api.ManySpec
	if err := decode(r, &m); err != nil {
		return store.Answer{}, err
	}
	ans, err := s.store.CreateMany(r.Context(), a, key, m)
	if api.IsCode(err, api.CodeNotFound) && s.syncImages(r.Context()) > 0 {
		ans, err = s.store.CreateMany(r.Context(), a, key, m)
	}
	return ans, err
}

// syncImages records image files that appeared in the store; it returns
// how many rows changed.
func (s *Server) syncImages(ctx context.Context) int {
	if s.images.Prefix == "" {
		return 0
	}
	list, err := s.images.List()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("list image store", "dir", s.images.ImagesDir(), "err", err)
	}
	found := make([]api.Image, len(list))
	for i, im := range list {
		found[i] = api.Image{Name: im.Name, Size: im.Size}
	}
	n, err := s.store.SyncImages(ctx, found)
	if err != nil {
		s.log.Warn("sync image store", "dir", s.images.ImagesDir(), "err", err)
	}
	return n
}

func (s *Server) act(r *http.Request, a store.Actor, key string) (store.Answer, error) {
	return s.store.Act(r.Context(), a, key, r.PathValue("ref"), api.Event(r.PathValue("action")))
}

func (s *Server) actMany(r *http.Request, a store.Actor, key string) (store.Answer, error) {
	return s.store.ActMany(r.Context(), a, key, r.PathValue("basename"), api.Event(r.PathValue("action")))
}

func (s *Server) migrate(r *http.Request, a store.Actor, key string) (store.Answer, error) {
	var m api.MigrateRequest
	if err := decode(r, &m); err != nil {
		return store.Answer{}, err
	}
	if m.Host == "" {
		return store.Answer{}, api.Errorf(api.CodeInvalid, "host", "host is required: the target host's id or name")
	}
	return s.store.Migrate(r.Context(), a, key, r.PathValue("ref"), m.Host)
}

func (s *Server) vmmCall(r *http.Request, a store.Actor, key string) (store.Answer, error) {
	var c api.VMMCallRequest
	if err := decode(r, &c); err != nil {
		return store.Answer{}, err
	}
	return s.store.RecordCall(r.Context(), a, key, r.PathValue("ref"), c.Arg)
}

func (s *Server) instances(r *http.Request, a store.Actor) (any, error) {
	mine, _ := strconv.ParseBool(r.URL.Query().Get("mine"))
	return s.store.Instances(r.Context(), a, mine)
}

func (s *Server) instance(r *http.Request, _ store.Actor) (any, error) {
	return s.store.Instance(r.Context(), r.PathValue("ref"))
}

func (s *Server) events(r *http.Request, _ store.Actor) (any, error) {
	return s.store.Events(r.Context(), r.PathValue("ref"))
}

func (s *Server) getImages(r *http.Request, _ store.Actor) (any, error) {
	s.syncImages(r.Context())
	return s.store.Images(r.Context())
}

func (s *Server) slots(r *http.Request, _ store.Actor) (any, error) {
	q := r.URL.Query()
	cores, err1 := strconv.Atoi(q.Get("cores"))
	memory, err2 := strconv.Atoi(q.Get("memory"))
	if err1 != nil || err2 != nil {
		return nil, api.Errorf(api.CodeInvalid, "cores", "cores and memory must be whole numbers, e.g. ?cores=1&memory=128")
	}
	return s.store.Slots(r.Context(), cores, memory)
}

// call answers a vmmSpecificCall, waiting up to ?wait= for an agent.
func (s *Server) call(r *http.Request, a store.Actor) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "id", "call id %q is not a number", r.PathValue("id"))
	}
	wait, err := waitParam(r)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	for {
		idx, err := s.store.CurrentIndex(r.Context())
		if err != nil {
			return nil, err
		}
		c, err := s.store.Call(r.Context(), a, id)
		if err != nil || c.Status != "pending" || !s.hub.wait(ctx, idx) {
			return c, err
		}
	}
}

// waitParam reads ?wait= (a Go duration, at most 5 minutes; default 0).
func waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > 5*time.Minute {
		return 0, api.Errorf(api.CodeInvalid, "wait", "wait %q is not valid; accepted: a duration like 30s, at most 5m", v)
	}
	return d, nil
}
