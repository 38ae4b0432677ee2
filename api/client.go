package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls the cluster manager's /v1 API with a bearer token.
type Client struct {
	BaseURL string // e.g. http://localhost:9882
	Token   string
	HTTP    *http.Client
	// RetryFor is how long calls keep retrying after transport errors
	// (the CM restarting) and 503s. Mutating calls carry an idempotency
	// key, so a retried request is done at most once. Zero means 30 s.
	RetryFor time.Duration
}

// NewClient returns a client for the CM at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: baseURL, Token: token, HTTP: &http.Client{}}
}

// NewKey returns a fresh idempotency key.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Do sends one request and decodes the answer into out (if not nil).
// Mutating calls (POST, DELETE) get an idempotency key; every call is
// retried on transport errors until RetryFor runs out.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.DoKey(ctx, method, path, NewKey(), in, out)
}

// DoKey is Do with a caller-chosen idempotency key.
func (c *Client) DoKey(ctx context.Context, method, path, key string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	deadline := time.Now().Add(c.retryFor())
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		err := c.once(ctx, method, path, key, body, out)
		if err == nil || !retryable(method, err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (c *Client) retryFor() time.Duration {
	if c.RetryFor == 0 {
		return 30 * time.Second
	}
	return c.RetryFor
}

// retryable: transport errors on any call, and 503s; never API errors.
func retryable(method string, err error) bool {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.Code == CodeUnavailable
	}
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func (c *Client) once(ctx context.Context, method, path, key string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if method != http.MethodGet {
		req.Header.Set("Idempotency-Key", key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

func decodeError(status int, data []byte) error {
	e := &Error{Status: status}
	if json.Unmarshal(data, e) != nil || e.Code == "" {
		e.Code = CodeInternal
		e.Message = fmt.Sprintf("HTTP %d: %s", status, bytes.TrimSpace(data))
	}
	return e
}

func esc(s string) string { return url.PathEscape(s) }

// CreateVM is createVm.
func (c *Client) CreateVM(ctx context.Context, s InstanceSpec) (Instance, error) {
	var out Instance
	return out, c.Do(ctx, "POST", "/v1/instances", s, &out)
}

// CreateMany is createMany: one request, one transaction.
func (c *Client) CreateMany(ctx context.Context, m ManySpec) (Group, error) {
	var out Group
	return out, c.Do(ctx, "POST", "/v1/groups", m, &out)
}

// Instances is getInstances; with mine, getMyInstances.
func (c *Client) Instances(ctx context.Context, mine bool) ([]Instance, error) {
	var out []Instance
	return out, c.Do(ctx, "GET", "/v1/instances?mine="+strconv.FormatBool(mine), nil, &out)
}

// Instance looks one instance up by id or name.
func (c *Client) Instance(ctx context.Context, ref string) (Instance, error) {
	var out Instance
	return out, c.Do(ctx, "GET", "/v1/instances/"+esc(ref), nil, &out)
}

// Events lists an instance's event log.
func (c *Client) Events(ctx context.Context, ref string) ([]LogEntry, error) {
	var out []LogEntry
	return out, c.Do(ctx, "GET", "/v1/instances/"+esc(ref)+"/events", nil, &out)
}

// Act asks for a lifecycle action on one instance: shutdown, destroy,
// suspend, resume, pause or unpause.
func (c *Client) Act(ctx context.Context, ref string, action Event) (Message, error) {
	var out Message
	return out, c.Do(ctx, "POST", "/v1/instances/"+esc(ref)+"/"+string(action), nil, &out)
}

// Migrate is migrateVm.
func (c *Client) Migrate(ctx context.Context, ref, host string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "POST", "/v1/instances/"+esc(ref)+"/migrate", MigrateRequest{Host: host}, &out)
}

// VMMSpecificCall records a vmmSpecificCall for an agent to carry out.
func (c *Client) VMMSpecificCall(ctx context.Context, ref, arg string) (VMMCall, error) {
	var out VMMCall
	return out, c.Do(ctx, "POST", "/v1/instances/"+esc(ref)+"/vmmSpecificCall", VMMCallRequest{Arg: arg}, &out)
}

// WaitCall waits up to wait for a vmmSpecificCall's answer.
func (c *Client) WaitCall(ctx context.Context, id int64, wait time.Duration) (VMMCall, error) {
	var out VMMCall
	p := fmt.Sprintf("/v1/calls/%d?wait=%s", id, wait)
	return out, c.Do(ctx, "GET", p, nil, &out)
}

// ActMany is shutdownMany or destroyMany by basename.
func (c *Client) ActMany(ctx context.Context, basename string, action Event) (Message, error) {
	var out Message
	return out, c.Do(ctx, "POST", "/v1/groups/"+esc(basename)+"/"+string(action), nil, &out)
}

// Layout is getVmLayout.
func (c *Client) Layout(ctx context.Context) ([]LayoutHost, error) {
	var out []LayoutHost
	return out, c.Do(ctx, "GET", "/v1/layout", nil, &out)
}

// Hosts is getHosts.
func (c *Client) Hosts(ctx context.Context) ([]Host, error) {
	var out []Host
	return out, c.Do(ctx, "GET", "/v1/hosts", nil, &out)
}

// Networks is getNetworks.
func (c *Client) Networks(ctx context.Context) ([]Network, error) {
	var out []Network
	return out, c.Do(ctx, "GET", "/v1/networks", nil, &out)
}

// Users is getUsers.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	return out, c.Do(ctx, "GET", "/v1/users", nil, &out)
}

// Images is getImages.
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	var out []Image
	return out, c.Do(ctx, "GET", "/v1/images", nil, &out)
}

// Slots is getSlots: how many VMs of this size fit now.
func (c *Client) Slots(ctx context.Context, cores, memory int) (Slots, error) {
	var out Slots
	return out, c.Do(ctx, "GET", fmt.Sprintf("/v1/slots?cores=%d&memory=%d", cores, memory), nil, &out)
}

// AddHost is addHost (admin).
func (c *Client) AddHost(ctx context.Context, r AddHostRequest) (Host, error) {
	var out Host
	return out, c.Do(ctx, "POST", "/v1/hosts", r, &out)
}

// DelHost is delHost (admin); refused while instances are on the host.
func (c *Client) DelHost(ctx context.Context, ref string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "DELETE", "/v1/hosts/"+esc(ref), nil, &out)
}

// SetHostState is setHostState (admin): Normal or Drained.
func (c *Client) SetHostState(ctx context.Context, ref, state string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "POST", "/v1/hosts/"+esc(ref)+"/state", HostStateRequest{State: state}, &out)
}

// SetHostNotes is setHostNotes (admin).
func (c *Client) SetHostNotes(ctx context.Context, ref, notes string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "POST", "/v1/hosts/"+esc(ref)+"/notes", HostNotesRequest{Notes: notes}, &out)
}

// AddReservation reserves a host for a user (admin).
func (c *Client) AddReservation(ctx context.Context, host, user string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "POST", "/v1/hosts/"+esc(host)+"/reservations", ReservationRequest{User: user}, &out)
}

// DelReservation removes a user from a host's reservation (admin).
func (c *Client) DelReservation(ctx context.Context, host, user string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "DELETE", "/v1/hosts/"+esc(host)+"/reservations/"+esc(user), nil, &out)
}

// Reservation is getReservation.
func (c *Client) Reservation(ctx context.Context, host string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "GET", "/v1/hosts/"+esc(host)+"/reservations", nil, &out)
}

// AddUser creates a user and returns it with its token (admin).
func (c *Client) AddUser(ctx context.Context, r AddUserRequest) (User, error) {
	var out User
	return out, c.Do(ctx, "POST", "/v1/users", r, &out)
}

// DelUser removes a user without instances (admin).
func (c *Client) DelUser(ctx context.Context, ref string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "DELETE", "/v1/users/"+esc(ref), nil, &out)
}

// SetQuota changes a user's quota (admin).
func (c *Client) SetQuota(ctx context.Context, ref string, q Quota) (User, error) {
	var out User
	return out, c.Do(ctx, "POST", "/v1/users/"+esc(ref)+"/quota", q, &out)
}

// AddNetwork records a network (admin).
func (c *Client) AddNetwork(ctx context.Context, n Network) (Network, error) {
	var out Network
	return out, c.Do(ctx, "POST", "/v1/networks", n, &out)
}

// DelNetwork removes a network no NIC uses (admin).
func (c *Client) DelNetwork(ctx context.Context, ref string) (Message, error) {
	var out Message
	return out, c.Do(ctx, "DELETE", "/v1/networks/"+esc(ref), nil, &out)
}

// AddImage registers a base image (admin).
func (c *Client) AddImage(ctx context.Context, r AddImageRequest) (Image, error) {
	var out Image
	return out, c.Do(ctx, "POST", "/v1/images", r, &out)
}

// Register is registerNodeManager.
func (c *Client) Register(ctx context.Context, r RegisterRequest) (RegisterResponse, error) {
	var out RegisterResponse
	return out, c.Do(ctx, "POST", "/v1/nm/register", r, &out)
}

// SendHeartbeat is the node manager's heartbeat.
func (c *Client) SendHeartbeat(ctx context.Context, hb Heartbeat) error {
	return c.Do(ctx, "POST", "/v1/nm/heartbeat", hb, nil)
}

// VMStateChange is vmStateChange.
func (c *Client) VMStateChange(ctx context.Context, sc StateChange) (Instance, error) {
	var out Instance
	return out, c.Do(ctx, "POST", "/v1/nm/vmStateChange", sc, &out)
}

// NMView returns the node managers' view (peers, networks, names). With
// index > 0 it first waits, up to wait, for a change after index.
func (c *Client) NMView(ctx context.Context, index uint64, wait time.Duration) (NMView, error) {
	var out NMView
	p := fmt.Sprintf("/v1/nm/view?index=%d&wait=%s", index, wait)
	return out, c.Do(ctx, "GET", p, nil, &out)
}

// Snapshot is the agents' consistent view of hosts and instances.
func (c *Client) Snapshot(ctx context.Context) (Snapshot, error) {
	var out Snapshot
	return out, c.Do(ctx, "GET", "/v1/agent/snapshot", nil, &out)
}

// Watch blocks until something changed after index, or wait ran out.
func (c *Client) Watch(ctx context.Context, index uint64, wait time.Duration) (WatchResult, error) {
	var out WatchResult
	p := fmt.Sprintf("/v1/agent/watch?index=%d&wait=%s", index, wait)
	return out, c.Do(ctx, "GET", p, nil, &out)
}

// SubmitPlan submits a plan for re-verification and commit.
func (c *Client) SubmitPlan(ctx context.Context, p Plan) (PlanResult, error) {
	var out PlanResult
	return out, c.Do(ctx, "POST", "/v1/agent/plans", p, &out)
}

// ClaimInstance claims an instance's pending transition.
func (c *Client) ClaimInstance(ctx context.Context, r ClaimRequest) (Claim, error) {
	var out Claim
	return out, c.Do(ctx, "POST", "/v1/agent/claims", r, &out)
}

// FinishClaim reports the outcome of a claimed transition.
func (c *Client) FinishClaim(ctx context.Context, id string, o ClaimOutcome) (Instance, error) {
	var out Instance
	return out, c.Do(ctx, "POST", "/v1/agent/claims/"+esc(id)+"/finish", o, &out)
}

// ReleaseClaim hands a claim back unfinished.
func (c *Client) ReleaseClaim(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/v1/agent/claims/"+esc(id), nil, nil)
}

// PendingCalls lists vmmSpecificCalls waiting for an agent.
func (c *Client) PendingCalls(ctx context.Context) ([]VMMCall, error) {
	var out []VMMCall
	return out, c.Do(ctx, "GET", "/v1/agent/calls", nil, &out)
}

// AnswerCall records the node manager's answer to a vmmSpecificCall.
func (c *Client) AnswerCall(ctx context.Context, id int64, status, result string) (VMMCall, error) {
	var out VMMCall
	return out, c.Do(ctx, "POST", fmt.Sprintf("/v1/agent/calls/%d", id), VMMCall{Status: status, Result: result}, &out)
}

// Explain records why instances are not placed (agents).
func (c *Client) Explain(ctx context.Context, xs []Explanation) error {
	return c.Do(ctx, "POST", "/v1/agent/explanations", xs, nil)
}

// Release puts a Held instance back to Pending (agents).
func (c *Client) Release(ctx context.Context, id, version int64) (Message, error) {
	var out Message
	body := struct {
		Version int64 `json:"version"`
	}{version}
	return out, c.Do(ctx, "POST", fmt.Sprintf("/v1/agent/instances/%d/release", id), body, &out)
}

// ImageOp is copyImage, cloneImage or rebaseImage (op copy, clone, rebase).
func (c *Client) ImageOp(ctx context.Context, op, src, dst string) (Image, error) {
	var out Image
	return out, c.Do(ctx, "POST", "/v1/images/"+esc(op), ImageOpRequest{Src: src, Dst: dst}, &out)
}

// Metric is getMetric: one metric of type typ from host from to host to.
func (c *Client) Metric(ctx context.Context, from, to, typ string) (MetricValue, error) {
	var out MetricValue
	q := url.Values{"from": {from}, "to": {to}, "type": {typ}}
	return out, c.Do(ctx, "GET", "/v1/metric?"+q.Encode(), nil, &out)
}

// AllMetrics is getAllMetrics: the metric of type typ from every host of
// from to every host of to.
func (c *Client) AllMetrics(ctx context.Context, from, to []string, typ string) (MetricMatrix, error) {
	var out MetricMatrix
	q := url.Values{"from": {strings.Join(from, ",")}, "to": {strings.Join(to, ",")}, "type": {typ}}
	return out, c.Do(ctx, "GET", "/v1/metrics?"+q.Encode(), nil, &out)
}
