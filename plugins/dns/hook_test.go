package dns

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
)

// TestHookAgainstBIND: the agent's hook, built from Tashi's [DhcpDns]
// keys, puts a started VM's name into a real BIND and takes it out on
// destroy; with a wrong key BIND refuses and the hook says so.
func TestHookAgainstBIND(t *testing.T) {
	needDig(t)
	dir := t.TempDir()
	key := testKey(t, dir, "tashi-hook")
	server := startNamed(t, key)
	host, port, _ := strings.Cut(server, ":")
	keyFile := filepath.Join(dir, "tashi-hook.key")
	if _, err := os.Stat(keyFile); err != nil { // tsig-keygen missing: write the key ourselves
		text := `key "` + key.Name + `" { algorithm ` + key.Algorithm + `; secret "` + key.Secret + `"; };`
		if err := os.WriteFile(keyFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h, err := NewHook(HookConfig{Server: host + " " + port, KeyFile: keyFile, Domain: "cluster.test",
		TTL: 60 * time.Second, Reverse: true})
	if err != nil || h == nil {
		t.Fatalf("NewHook: %v", err)
	}
	ctx := context.Background()
	vm := api.Instance{ID: 7, Name: "Web-3", NICs: []api.NIC{{Network: "lab", IP: "10.88.0.23"}}}
	if err := h.Created(ctx, vm); err != nil {
		t.Fatalf("Created: %v", err)
	}
	expectDig(t, server, "NOERROR", []string{"A 10.88.0.23"}, "web-3.cluster.test", "A")
	expectDig(t, server, "NOERROR", []string{"PTR web-3.cluster.test."}, "-x", "10.88.0.23")

	bad, err := NewHook(HookConfig{Server: server, KeyName: key.Name, Secret: randomSecret(t), Domain: "cluster.test"})
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Destroyed(ctx, vm)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "TSIG") {
		t.Fatalf("destroy with a wrong key: %v; want a refusal that mentions TSIG", err)
	}
	expectDig(t, server, "NOERROR", []string{"A 10.88.0.23"}, "web-3.cluster.test", "A") // unchanged

	if err := h.Destroyed(ctx, vm); err != nil {
		t.Fatalf("Destroyed: %v", err)
	}
	expectDig(t, server, "NXDOMAIN", nil, "web-3.cluster.test", "A")
	expectDig(t, server, "NXDOMAIN", nil, "-x", "10.88.0.23")
}

func TestNewHookConfig(t *testing.T) {
	if h, err := NewHook(HookConfig{}); h != nil || err != nil {
		t.Fatalf("no server: %v %v; want the hook off", h, err)
	}
	for _, c := range []HookConfig{
		{Server: "10.0.0.1 53 54", Domain: "a.test"},
		{Server: "10.0.0.1:x:y", Domain: "a.test"},
		{Server: "10.0.0.1", KeyName: "k", Domain: "a.test"},
		{Server: "10.0.0.1", Domain: "bad domain"},
		{Server: "10.0.0.1", KeyFile: "/nonexistent/key", Domain: "a.test"},
	} {
		if _, err := NewHook(c); err == nil {
			t.Errorf("NewHook(%+v) accepted", c)
		}
	}
	h, err := NewHook(HookConfig{Server: "10.0.0.1", Domain: "a.test"})
	if err != nil || h.Updater.Server != "10.0.0.1:53" {
		t.Fatalf("default port: %+v %v", h, err)
	}
}
