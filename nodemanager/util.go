package nodemanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/tashi-go/tashi/api"
)

func errorsAs(err error, target **api.Error) bool { return errors.As(err, target) }

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, api.Errorf(api.CodeMalformed, "", "read request body: %v", err)
	}
	return b, nil
}

// strictJSON decodes one JSON object, refusing unknown fields.
func strictJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return api.Errorf(api.CodeMalformed, "", "malformed request: %v", err)
	}
	return nil
}

func listenHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "::" {
		return "0.0.0.0"
	}
	return host
}

// opCache remembers the answers of recent operations by operation id, so
// that an agent repeating a call (after a timeout, or a crash and a
// takeover) gets the first answer instead of a second action.
type opCache struct {
	mu    sync.Mutex
	max   int
	order []string
	done  map[string]opResult
	run   map[string]chan struct{}
}

type opResult struct {
	out any
	err error
}

func newOpCache(max int) *opCache {
	return &opCache{max: max, done: map[string]opResult{}, run: map[string]chan struct{}{}}
}

// do runs fn once per key (when remember is set); concurrent callers with
// the same key wait for the first.
func (c *opCache) do(key string, remember bool, fn func() (any, error)) (any, error) {
	if !remember {
		return fn()
	}
	c.mu.Lock()
	if r, ok := c.done[key]; ok {
		c.mu.Unlock()
		return r.out, r.err
	}
	if ch, ok := c.run[key]; ok {
		c.mu.Unlock()
		<-ch
		return c.do(key, remember, fn)
	}
	ch := make(chan struct{})
	c.run[key] = ch
	c.mu.Unlock()
	out, err := fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.run, key)
	close(ch)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return out, err // not an answer: a repeat runs it again
	}
	c.done[key] = opResult{out, err}
	c.order = append(c.order, key)
	if len(c.order) > c.max {
		delete(c.done, c.order[0])
		c.order = c.order[1:]
	}
	return out, err
}
