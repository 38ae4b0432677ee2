package telemetry

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Sensor reads stats about hosts from outside Tashi, by Tashi host name.
type Sensor interface {
	Read(ctx context.Context) (map[string]HostStats, error)
}

// Factory builds a Sensor from its spec, a sensor-specific config value.
type Factory func(spec string) (Sensor, error)

// Registry maps sensor names to Factories. Build one where the program is
// wired: NewRegistry, then Register each sensor (ganglia.Factory).
type Registry struct {
	factories map[string]Factory
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{factories: map[string]Factory{}}
}

// Register adds a Factory under name, refusing a name already taken.
func (r *Registry) Register(name string, f Factory) error {
	if _, dup := r.factories[name]; dup {
		return fmt.Errorf("register sensor %q: %w", name, ErrDuplicateSensor)
	}
	r.factories[name] = f
	return nil
}

// New builds the sensor called name from spec.
func (r *Registry) New(name, spec string) (Sensor, error) {
	f, ok := r.factories[name]
	if !ok {
		return nil, fmt.Errorf("%w %q; registered: %s", ErrUnknownSensor, name, strings.Join(r.Names(), ", "))
	}
	s, err := f(spec)
	if err != nil {
		return nil, fmt.Errorf("configure sensor %q: %w", name, err)
	}
	return s, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.factories))
	for n := range r.factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
