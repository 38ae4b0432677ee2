package nodemanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

func (n *NodeManager) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/vms", n.op(n.handleInstantiate))
	mux.HandleFunc("POST /v1/vms/prepReceive", n.op(n.handlePrepReceive))
	mux.HandleFunc("POST /v1/vms/{id}/{action}", n.op(n.handleAction))
	mux.HandleFunc("POST /v1/vms/{id}/suspend", n.op(n.handleSuspend))
	mux.HandleFunc("POST /v1/vms/{id}/migrate", n.op(n.handleMigrate))
	mux.HandleFunc("POST /v1/vms/{id}/call", n.op(n.handleCall))
	mux.HandleFunc("GET /v1/vms", func(w http.ResponseWriter, r *http.Request) {
		gs, err := n.cfg.VMM.List(r.Context())
		out := make([]api.VMInfo, 0, len(gs))
		for _, g := range gs {
			out = append(out, toVMInfo(g))
		}
		reply(w, out, err)
	})
	mux.HandleFunc("GET /v1/vms/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err == nil {
			var g vmm.Info
			if g, err = n.cfg.VMM.Info(r.Context(), id); err == nil {
				reply(w, toVMInfo(g), nil)
				return
			}
		}
		reply(w, nil, err)
	})
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		reply(w, api.Message{Message: "alive"}, nil)
	})
	return mux
}

// opTimeout bounds one NM operation (a suspend or migration of a big guest
// is the longest).
const opTimeout = 30 * time.Minute

// handler is a mutating NM call: it returns its answer and an operation
// id under which the answer is remembered.
type handler func(ctx context.Context, r *http.Request, body []byte) (opID string, out any, err error)

// op makes a call idempotent per operation id: a repeat gets the first
// answer; a repeat while the first is running waits for it.
func (n *NodeManager) op(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		var probe struct {
			OpID string `json:"opId"`
		}
		_ = json.Unmarshal(body, &probe)
		key := r.URL.Path + "#" + probe.OpID
		// The operation outlives its caller (an agent that dies mid-call):
		// the agent that takes the claim over gets its answer by op id.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), opTimeout)
		defer cancel()
		out, err := n.ops.do(key, probe.OpID != "", func() (any, error) {
			_, out, err := h(ctx, r, body)
			return out, err
		})
		reply(w, out, err)
	}
}

func (n *NodeManager) handleInstantiate(ctx context.Context, r *http.Request, body []byte) (string, any, error) {
	var req api.InstantiateRequest
	if err := strictJSON(body, &req); err != nil {
		return "", nil, err
	}
	if req.ResumeFile == "" {
		g, err := n.instantiate(ctx, req, false)
		return req.OpID, toVMInfo(g), err
	}
	vm, err := n.resume(ctx, req)
	return req.OpID, vm, err
}

// resume starts a guest waiting for its state and loads it from the
// suspend file; the answer carries the new VM id and what it measured.
func (n *NodeManager) resume(ctx context.Context, req api.InstantiateRequest) (api.VMInfo, error) {
	file := n.resumeFile(req.Instance.ID, req.Instance.Name)
	n.expect(req.Instance.ID, true) // the agent reports the outcome
	defer n.expect(req.Instance.ID, false)
	if _, err := n.instantiate(ctx, req, true); err != nil {
		return api.VMInfo{}, err
	}
	st, err := n.cfg.VMM.Resume(ctx, req.Instance.ID, file)
	if err != nil {
		_ = n.stop(ctx, req.Instance.ID, true, func() error { return n.cfg.VMM.Destroy(ctx, req.Instance.ID) })
		return api.VMInfo{}, fmt.Errorf("resume instance %d from %s: %w", req.Instance.ID, file, err)
	}
	g, err := n.cfg.VMM.Info(ctx, req.Instance.ID)
	vm := toVMInfo(g)
	stats := opStats(file, st)
	vm.Stats = &stats
	return vm, err
}

func (n *NodeManager) handlePrepReceive(ctx context.Context, r *http.Request, body []byte) (string, any, error) {
	var req api.InstantiateRequest
	if err := strictJSON(body, &req); err != nil {
		return "", nil, err
	}
	n.expect(req.Instance.ID, true) // until receive: the agent reports the landing
	if _, err := n.instantiate(ctx, req, true); err != nil {
		n.expect(req.Instance.ID, false)
		return req.OpID, nil, err
	}
	target, err := n.cfg.VMM.ListenMigration(ctx, req.Instance.ID, listenHost(n.cfg.Advertise)+":0")
	return req.OpID, api.PrepReceiveResponse{Target: target}, err
}

// handleAction: shutdown, destroy, pause, unpause, receive.
func (n *NodeManager) handleAction(ctx context.Context, r *http.Request, body []byte) (string, any, error) {
	id, err := pathID(r)
	var req api.OpRequest
	if err == nil {
		err = strictJSON(body, &req)
	}
	if err != nil {
		return "", nil, err
	}
	switch r.PathValue("action") {
	case "pause":
		err = n.cfg.VMM.Pause(ctx, id)
	case "unpause":
		err = n.cfg.VMM.Unpause(ctx, id)
	case "shutdown":
		timeout := time.Duration(req.TimeoutSeconds) * time.Second
		if timeout <= 0 {
			timeout = n.cfg.ShutdownTimeout
		}
		err = n.stop(ctx, id, false, func() error { return n.cfg.VMM.Shutdown(ctx, id, timeout) })
	case "destroy": // a guest still waiting for a migration runs on the source's disks
		g, _ := n.cfg.VMM.Info(ctx, id)
		keep := req.KeepDisks || g.State == vmm.StateIncoming
		err = n.stop(ctx, id, keep, func() error { return n.cfg.VMM.Destroy(ctx, id) })
	case "receive": // migrations start only from Running: the guest runs here too
		g, err := n.waitRunning(ctx, id, time.Minute)
		if err == nil && g.State == vmm.StatePaused {
			err = n.cfg.VMM.Unpause(ctx, id)
			g, _ = n.cfg.VMM.Info(ctx, id)
		}
		n.expect(id, false)
		return req.OpID, toVMInfo(g), err
	default:
		err = api.Errorf(api.CodeInvalid, "action", "unknown action %q; accepted: shutdown, destroy, pause, unpause, receive, suspend, migrate, call", r.PathValue("action"))
	}
	g, _ := n.cfg.VMM.Info(ctx, id)
	return req.OpID, toVMInfo(g), err
}

func (n *NodeManager) handleSuspend(ctx context.Context, r *http.Request, body []byte) (string, any, error) {
	id, err := pathID(r)
	var req api.SuspendRequest
	if err == nil {
		err = strictJSON(body, &req)
	}
	if err != nil {
		return "", nil, err
	}
	if _, err := n.cfg.VMM.Info(ctx, id); err != nil {
		return req.OpID, nil, err
	}
	if err := api.ValidName("name", req.Name); err != nil {
		return req.OpID, nil, err
	}
	file := n.suspendFile(id, req.Name)
	var st vmm.MigrationStats
	err = n.stop(ctx, id, true, func() error {
		var err error
		st, err = n.cfg.VMM.Suspend(ctx, id, file)
		return err
	})
	return req.OpID, opStats(file, st), err
}

func (n *NodeManager) handleMigrate(ctx context.Context, r *http.Request, body []byte) (string, any, error) {
	id, err := pathID(r)
	var req api.MigrateVMRequest
	if err == nil {
		err = strictJSON(body, &req)
	}
	if err != nil {
		return "", nil, err
	}
	if req.Target == "" {
		return req.OpID, nil, api.Errorf(api.CodeInvalid, "target", "target is required: host:port from prepReceiveVm")
	}
	var st vmm.MigrationStats
	err = n.stop(ctx, id, true, func() error {
		var err error
		st, err = n.cfg.VMM.Migrate(ctx, id, req.Target, time.Duration(req.DowntimeMs)*time.Millisecond,
			int64(req.BandwidthMB)<<20)
		return err
	})
	return req.OpID, opStats("", st), err
}

func (n *NodeManager) handleCall(ctx context.Context, r *http.Request, body []byte) (string, any, error) {
	id, err := pathID(r)
	var req api.CallRequest
	if err == nil {
		err = strictJSON(body, &req)
	}
	if err != nil {
		return "", nil, err
	}
	out, err := n.cfg.VMM.Call(ctx, id, req.Arg)
	return "", api.Message{Message: out}, err
}

func opStats(file string, st vmm.MigrationStats) api.OpStats {
	return api.OpStats{File: file, TotalMs: ms(st.Total), DowntimeMs: ms(st.Downtime), Bytes: st.Bytes}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, api.Errorf(api.CodeInvalid, "id", "instance id %q is not valid", r.PathValue("id"))
	}
	return id, nil
}

// reply sends out, or err as an api.Error (unknown guests are 404s).
func reply(w http.ResponseWriter, out any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var e *api.Error
		var nog vmm.ErrNoSuchGuest
		switch {
		case errors.As(err, &e):
		case errors.As(err, &nog):
			e = api.Errorf(api.CodeNotFound, "id", "%v", err)
		default:
			e = api.Errorf(api.CodeInternal, "", "%v", err)
		}
		w.WriteHeader(e.HTTPStatus())
		_ = json.NewEncoder(w).Encode(e)
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}
