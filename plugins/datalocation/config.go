package datalocation

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Config is a plugin's settings as key=value pairs, as they come from the
// agent's configuration. Each plugin documents its keys.
type Config map[string]string

// Check rejects keys that are not in accepted, naming the bad key and the
// accepted ones.
func (c Config) Check(plugin string, accepted ...string) error {
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if !slices.Contains(accepted, k) {
			return fmt.Errorf("%s config: unknown key %q (accepted: %s)",
				plugin, k, strings.Join(accepted, ", "))
		}
	}
	return nil
}

// Required returns the value of key, or an error naming the missing key.
func (c Config) Required(plugin, key string) (string, error) {
	v := strings.TrimSpace(c[key])
	if v == "" {
		return "", fmt.Errorf("%s config: key %q is required", plugin, key)
	}
	return v, nil
}

// Get returns the value of key, or def when the key is absent or blank.
func (c Config) Get(key, def string) string {
	if v := strings.TrimSpace(c[key]); v != "" {
		return v
	}
	return def
}
