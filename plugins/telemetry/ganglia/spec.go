package ganglia

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tashi-go/tashi/plugins/telemetry"
)

const specKeys = "accepted keys: addr, timeout, maxBytes, match, map"

// ParseConfig reads a sensor spec: space-separated key=value words.
//
//	addr=gmond.example.org:8649 timeout=5s maxBytes=33554432 match=shortname map=node7.example.org=h7,10.0.0.8=h8
//
// addr is required; timeout is a Go duration or seconds; match is name,
// shortname or ip; map lists ganglia=tashi pairs separated by commas,
// keyed by Ganglia NAME or IP.
func ParseConfig(spec string) (Config, error) {
	var c Config
	for _, kv := range strings.Fields(spec) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Config{}, fmt.Errorf("ganglia spec: expected key=value, got %q; %s", kv, specKeys)
		}
		if err := c.set(k, v); err != nil {
			return Config{}, fmt.Errorf("ganglia spec: %w", err)
		}
	}
	return c, nil
}

func (c *Config) set(k, v string) error {
	var err error
	switch strings.ToLower(k) {
	case "addr":
		c.Addr = v
	case "timeout":
		c.Timeout, err = parseTimeout(v)
	case "maxbytes":
		c.MaxBytes, err = strconv.ParseInt(v, 10, 64)
		if err != nil || c.MaxBytes <= 0 {
			err = fmt.Errorf("bad maxBytes %q; accepted: an integer > 0", v)
		}
	case "match":
		c.Match.By, err = ParseMatchBy(v)
	case "map":
		c.Match.Map, err = parseMap(v)
	default:
		err = fmt.Errorf("unknown key %q; %s", k, specKeys)
	}
	return err
}

func parseTimeout(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 1e9 {
		return time.Duration(s * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("bad timeout %q; accepted: a duration (5s) or seconds > 0", v)
}

func parseMap(v string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		g, t, ok := strings.Cut(pair, "=")
		if !ok || g == "" || t == "" {
			return nil, fmt.Errorf("bad map entry %q; accepted: gangliaNameOrIP=tashiName,...", pair)
		}
		m[g] = t
	}
	return m, nil
}

// Factory builds a Sensor from a spec (see ParseConfig), for
// telemetry.Registry.
func Factory(spec string) (telemetry.Sensor, error) {
	c, err := ParseConfig(spec)
	if err != nil {
		return nil, err
	}
	s, err := New(c)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return s, nil
}
