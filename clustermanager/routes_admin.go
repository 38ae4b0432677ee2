package clustermanager

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
	"github.com/tashi-go/tashi/images"
)

func (s *Server) adminRoutes() {
	s.handle("POST /v1/hosts", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.AddHostRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.AddHost(r.Context(), a, key, req)
	}))
	s.handle("DELETE /v1/hosts/{ref}", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		return s.store.DelHost(r.Context(), a, key, r.PathValue("ref"))
	}))
	s.handle("POST /v1/hosts/{ref}/state", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.HostStateRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.SetHostState(r.Context(), a, key, r.PathValue("ref"), req.State)
	}))
	s.handle("POST /v1/hosts/{ref}/notes", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.HostNotesRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.SetHostNotes(r.Context(), a, key, r.PathValue("ref"), req.Notes)
	}))
	s.reservationRoutes()
	s.userRoutes()
	s.catalogRoutes()
}

func (s *Server) reservationRoutes() {
	s.handle("POST /v1/hosts/{ref}/reservations", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.ReservationRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.Reserve(r.Context(), a, key, r.PathValue("ref"), req.User, false)
	}))
	s.handle("DELETE /v1/hosts/{ref}/reservations/{user}", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		return s.store.Reserve(r.Context(), a, key, r.PathValue("ref"), r.PathValue("user"), true)
	}))
	s.handle("GET /v1/hosts/{ref}/reservations", s.read(users, func(r *http.Request, _ store.Actor) (any, error) {
		return s.store.Reservation(r.Context(), r.PathValue("ref"))
	}))
}

func (s *Server) userRoutes() {
	s.handle("POST /v1/users", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.AddUserRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.AddUser(r.Context(), a, key, req)
	}))
	s.handle("DELETE /v1/users/{ref}", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		return s.store.DelUser(r.Context(), a, key, r.PathValue("ref"))
	}))
	s.handle("POST /v1/users/{ref}/quota", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var q api.Quota
		if err := decode(r, &q); err != nil {
			return store.Answer{}, err
		}
		return s.store.SetQuota(r.Context(), a, key, r.PathValue("ref"), q)
	}))
}

func (s *Server) catalogRoutes() {
	s.handle("POST /v1/networks", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var n api.Network
		if err := decode(r, &n); err != nil {
			return store.Answer{}, err
		}
		return s.store.AddNetwork(r.Context(), a, key, n)
	}))
	s.handle("DELETE /v1/networks/{ref}", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		return s.store.DelNetwork(r.Context(), a, key, r.PathValue("ref"))
	}))
	s.handle("POST /v1/images/{op}", s.read(admins, s.imageOp))
	s.handle("POST /v1/images", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.AddImageRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.AddImage(r.Context(), a, key, req)
	}))
}

// imageOp runs Tashi's copyImage, cloneImage or rebaseImage on the shared
// image store (as Tashi's CM did) and records the new image.
func (s *Server) imageOp(r *http.Request, a store.Actor) (any, error) {
	var req api.ImageOpRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	ops := map[string]func(context.Context, string, string) error{
		"copy": s.images.Copy, "clone": s.images.Clone, "rebase": s.images.Rebase}
	op, ok := ops[r.PathValue("op")]
	if !ok {
		return nil, api.Errorf(api.CodeInvalid, "op", "unknown image operation %q; accepted: copy, clone, rebase", r.PathValue("op"))
	}
	if s.images.Prefix == "" {
		return nil, api.Errorf(api.CodeUnavailable, "", "this cluster manager has no image store ([Vfs] prefix)")
	}
	for f, name := range map[string]string{"src": req.Src, "dst": req.Dst} {
		if err := images.CheckName(name); err != nil {
			return nil, api.Errorf(api.CodeInvalid, f, "%s: %v", f, err)
		}
	}
	if err := op(r.Context(), req.Src, req.Dst); err != nil {
		return nil, imageErr(err)
	}
	s.syncImages(r.Context())
	list, err := s.store.Images(r.Context())
	for _, im := range list {
		if im.Name == req.Dst {
			return im, err
		}
	}
	return nil, fmt.Errorf("image %s made but not recorded: %w", req.Dst, err)
}

func imageErr(err error) error {
	switch {
	case errors.Is(err, images.ErrNoImage):
		return api.Errorf(api.CodeNotFound, "src", "%v", err)
	case errors.Is(err, images.ErrExists):
		return api.Errorf(api.CodeDuplicate, "dst", "%v", err)
	case errors.Is(err, images.ErrBadName):
		return api.Errorf(api.CodeInvalid, "dst", "%v", err)
	}
	return err
}
