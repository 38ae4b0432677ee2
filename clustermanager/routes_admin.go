package clustermanager

import (
	"net/http"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/store"
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
	s.handle("POST /v1/images", s.mutate(admins, func(r *http.Request, a store.Actor, key string) (store.Answer, error) {
		var req api.AddImageRequest
		if err := decode(r, &req); err != nil {
			return store.Answer{}, err
		}
		return s.store.AddImage(r.Context(), a, key, req)
	}))
}
