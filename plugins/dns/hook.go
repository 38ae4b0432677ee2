package dns

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
)

// Hook is the agent's DhcpDns hook (Tashi's): when a VM starts it pushes
// <vm name>.<zone> with the VM's first address to a site's DNS server
// through the Updater, and removes it when the VM is destroyed. It
// satisfies agents.Hook.
type Hook struct{ Updater *Updater }

// HookConfig is the [DhcpDns] section, Tashi's keys.
type HookConfig struct {
	Server      string // dnsServer: "ip port" (Tashi) or ip:port; "" turns the hook off
	KeyFile     string // dnsKeyFile (tsig-keygen's format), or:
	KeyName     string // dnsKeyName
	Secret      string // dnsSecretKey (base64, hmac-sha256)
	Domain      string // dnsDomain
	TTL         time.Duration
	Reverse     bool   // reverseDns
	ReverseZone string // "" = each address's /24
}

// NewHook builds the hook; it returns nil, nil when no server is set.
func NewHook(c HookConfig) (*Hook, error) {
	if strings.TrimSpace(c.Server) == "" {
		return nil, nil
	}
	server, err := hostPort(c.Server)
	if err != nil {
		return nil, err
	}
	key := Key{Name: c.KeyName, Algorithm: "hmac-sha256", Secret: c.Secret}
	if c.KeyFile != "" {
		if key, err = ReadKeyFile(c.KeyFile); err != nil {
			return nil, fmt.Errorf("dnsKeyFile: %w", err)
		}
	}
	if (key.Name == "") != (key.Secret == "") {
		return nil, &FieldError{Field: "dnsKeyName", Value: key.Name, Reason: "dnsKeyName and dnsSecretKey go together"}
	}
	if _, err := CanonicalName(c.Domain); err != nil {
		return nil, fmt.Errorf("dnsDomain: %w", err)
	}
	return &Hook{Updater: &Updater{Server: server, Zone: c.Domain, Reverse: c.Reverse, ReverseZone: c.ReverseZone,
		TTL: uint32(c.TTL / time.Second), Key: key}}, nil
}

// hostPort reads "ip port" or "ip:port" (port 53 if absent).
func hostPort(s string) (string, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 2:
		return net.JoinHostPort(f[0], f[1]), nil
	case len(f) == 1 && strings.Contains(f[0], ":"):
		if _, _, err := net.SplitHostPort(f[0]); err != nil {
			return "", &FieldError{Field: "dnsServer", Value: s, Reason: "accepted: \"ip port\" or ip:port"}
		}
		return f[0], nil
	case len(f) == 1:
		return net.JoinHostPort(f[0], "53"), nil
	}
	return "", &FieldError{Field: "dnsServer", Value: s, Reason: "accepted: \"ip port\" or ip:port"}
}

// Name names the hook in logs and errors.
func (h *Hook) Name() string { return "dns update " + h.Updater.Server }

// Created adds the VM's name with its first address.
func (h *Hook) Created(ctx context.Context, in api.Instance) error {
	ip := firstIP(in)
	if ip == nil {
		return nil
	}
	return h.Updater.Add(ctx, h.fqdn(in), ip)
}

// Destroyed removes the VM's name (and its address's PTR).
func (h *Hook) Destroyed(ctx context.Context, in api.Instance) error {
	ip := firstIP(in)
	if ip == nil {
		return nil
	}
	return h.Updater.Remove(ctx, h.fqdn(in), ip)
}

func (h *Hook) fqdn(in api.Instance) string {
	return strings.ToLower(in.Name) + "." + strings.TrimSuffix(h.Updater.Zone, ".") + "."
}

func firstIP(in api.Instance) net.IP {
	for _, n := range in.NICs {
		if ip := net.ParseIP(n.IP).To4(); ip != nil {
			return ip
		}
	}
	return nil
}
