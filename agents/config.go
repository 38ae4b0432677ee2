package agents

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tashi-go/tashi/configs"
	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/datalocation/builtin"
	"github.com/tashi-go/tashi/plugins/dns"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/scheduler"
)

// policy is the scheduler's site configuration: Tashi's [Primitive]
// densePack, and [Scheduler] candidateLimit, gangTimeout, loadAware,
// localityWeight, rackCredit and loadWeight.
func policy(c *configs.Config) (scheduler.Policy, error) {
	dense, err1 := c.Bool("Primitive", "densePack")
	limit, err2 := c.Int("Scheduler", "candidateLimit")
	gang, err3 := c.Duration("Scheduler", "gangTimeout")
	load, err4 := c.Bool("Scheduler", "loadAware")
	weight, err5 := c.Float("Scheduler", "localityWeight")
	credit, err6 := c.Float("Scheduler", "rackCredit")
	loadWeight, err7 := c.Float("Scheduler", "loadWeight")
	if err6 == nil && credit > 1 {
		err6 = fmt.Errorf("bad value for Scheduler.rackCredit: %q; accepted: a number up to 1 "+
			"(0 = the default, %g; negative = no credit)", c.String("Scheduler", "rackCredit"), scheduler.DefaultRackCredit)
	}
	return scheduler.Policy{DensePack: dense, CandidateLimit: limit, GangTimeout: gang,
			LoadAware: load, LocalityWeight: weight, RackCredit: credit, LoadWeight: loadWeight},
		errors.Join(err1, err2, err3, err4, err5, err6, err7)
}

// pluginKeys are the [DataLocation] keys each in-tree plugin reads; the
// others belong to other plugins and are not passed on.
var pluginKeys = map[string][]string{
	builtin.MooseFS: {"mount", "prefix", "mfsfileinfo"},
	builtin.WebHDFS: {"url", "user"},
}

// dataSettings are what the agent takes from [DataLocation].
type dataSettings struct {
	locator  datalocation.Locator // nil when no plugin is configured
	hostMap  datalocation.HostMap
	cacheTTL time.Duration
}

// dataLocation builds the data location plugin named by [DataLocation]
// plugin (none when blank) from the registry, with its keys, and reads
// hostMap and cacheSeconds.
func dataLocation(c *configs.Config, reg *datalocation.Registry) (dataSettings, error) {
	const sec = "DataLocation"
	var ds dataSettings
	var err error
	if ds.hostMap, err = datalocation.ParseHostMap(c.String(sec, "hostMap")); err != nil {
		return ds, fmt.Errorf("[%s] hostMap: %w", sec, err)
	}
	if ds.cacheTTL, err = c.Duration(sec, "cacheSeconds"); err != nil {
		return ds, err
	}
	name := strings.TrimSpace(c.String(sec, "plugin"))
	if name == "" {
		return ds, nil
	}
	cfg := datalocation.Config{}
	for _, k := range pluginKeys[name] {
		if v := strings.TrimSpace(c.String(sec, k)); v != "" {
			cfg[k] = v
		}
	}
	if ds.locator, err = reg.New(name, cfg); err != nil {
		return ds, fmt.Errorf("[%s] plugin = %s: %w", sec, name, err)
	}
	return ds, nil
}

// topology reads [Telemetry] topologyFile; nil when it is blank.
func topology(c *configs.Config) (*telemetry.Topology, error) {
	path := strings.TrimSpace(c.String("Telemetry", "topologyFile"))
	if path == "" {
		return nil, nil
	}
	t, err := telemetry.LoadTopology(path)
	if err != nil {
		return nil, fmt.Errorf("[Telemetry] topologyFile %s: %w", path, err)
	}
	return t, nil
}

// hooksFrom builds the agent's hooks: the [DhcpDns] one, pushing VM names
// to a site's BIND, when dnsServer is set.
func hooksFrom(c *configs.Config) ([]Hook, error) {
	ttl, err := c.Duration("DhcpDns", "dnsExpire")
	reverse, err2 := c.Bool("DhcpDns", "reverseDns")
	if err := errors.Join(err, err2); err != nil {
		return nil, err
	}
	h, err := dns.NewHook(dns.HookConfig{Server: c.String("DhcpDns", "dnsServer"),
		KeyFile: c.String("DhcpDns", "dnsKeyFile"), KeyName: c.String("DhcpDns", "dnsKeyName"),
		Secret: c.String("DhcpDns", "dnsSecretKey"), Domain: c.String("DhcpDns", "dnsDomain"),
		TTL: ttl, Reverse: reverse, ReverseZone: c.String("DhcpDns", "reverseZone")})
	if err != nil {
		return nil, fmt.Errorf("[DhcpDns]: %w", err)
	}
	if h == nil {
		return nil, nil
	}
	return []Hook{h}, nil
}
