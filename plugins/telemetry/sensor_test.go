package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type fixedSensor map[string]HostStats

func (f fixedSensor) Read(context.Context) (map[string]HostStats, error) { return f, nil }

var _ Sensor = fixedSensor(nil)

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	bad := errors.New("bad spec")
	f := func(spec string) (Sensor, error) {
		if spec == "bad" {
			return nil, bad
		}
		return fixedSensor{"h1": {Load1: 1}}, nil
	}
	if err := r.Register("fixed", f); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("fixed", f); !errors.Is(err, ErrDuplicateSensor) {
		t.Errorf("duplicate: err = %v", err)
	}
	s, err := r.New("fixed", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Read(context.Background()); got["h1"].Load1 != 1 {
		t.Errorf("Read = %v", got)
	}
	if _, err := r.New("fixed", "bad"); !errors.Is(err, bad) || !strings.Contains(err.Error(), `sensor "fixed"`) {
		t.Errorf("bad spec: err = %v", err)
	}
	if _, err := r.New("snmp", ""); !errors.Is(err, ErrUnknownSensor) || !strings.Contains(err.Error(), "registered: fixed") {
		t.Errorf("unknown: err = %v", err)
	}
}
