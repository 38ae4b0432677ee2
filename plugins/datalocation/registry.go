package datalocation

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Factory builds a Locator from its configuration.
type Factory func(cfg Config) (Locator, error)

// Registry maps plugin names to factories. Build it where the program is
// wired (see builtin.NewRegistry); there is no global registry.
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{factories: map[string]Factory{}}
}

// Register adds a factory under name. Empty names, nil factories and
// duplicate names are rejected.
func (r *Registry) Register(name string, f Factory) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("register data location plugin: empty name")
	case f == nil:
		return fmt.Errorf("register data location plugin %q: nil factory", name)
	}
	if _, dup := r.factories[name]; dup {
		return fmt.Errorf("register data location plugin %q: already registered", name)
	}
	r.factories[name] = f
	return nil
}

// Names lists the registered plugin names in order.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.factories))
}

// New builds the Locator registered under name from cfg.
func (r *Registry) New(name string, cfg Config) (Locator, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, fmt.Errorf("unknown data location plugin %q (accepted: %s)",
			name, strings.Join(r.Names(), ", "))
	}
	loc, err := f(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure data location plugin %q: %w", name, err)
	}
	return loc, nil
}
