package ganglia

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/plugins/telemetry"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig("addr=gmond:8649 timeout=2.5 maxBytes=1024 match=shortname map=n7.example.org=h7,10.0.0.8=h8,fd00::9=h9")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Addr: "gmond:8649", Timeout: 2500 * time.Millisecond, MaxBytes: 1024,
		Match: Match{By: MatchShortName, Map: map[string]string{"n7.example.org": "h7", "10.0.0.8": "h8", "fd00::9": "h9"}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if c, err := ParseConfig("timeout=750ms"); err != nil || c.Timeout != 750*time.Millisecond {
		t.Errorf("duration timeout = %v, %v", c.Timeout, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := map[string]string{
		"addr":               "expected key=value",
		"port=8649":          `unknown key "port"; accepted keys: addr, timeout, maxBytes, match, map`,
		"timeout=soon":       `bad timeout "soon"`,
		"timeout=-1s":        "bad timeout",
		"maxBytes=0":         "bad maxBytes",
		"match=fqdn":         `bad match "fqdn"`,
		"map=a=b,c":          `bad map entry "c"`,
		"map=a=b,=c":         `bad map entry "=c"`,
		"addr=x map=a=b,c=,": `bad map entry "c="`,
	}
	for spec, want := range tests {
		if _, err := ParseConfig(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConfig(%q) = %v, want %q", spec, err, want)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	for addr, want := range map[string]string{"gmond": "gmond:8649", "10.0.0.1:9000": "10.0.0.1:9000", "fd00::1": "[fd00::1]:8649"} {
		s, err := New(Config{Addr: addr})
		if err != nil {
			t.Fatal(err)
		}
		if s.cfg.Addr != want || s.cfg.Timeout != DefaultTimeout || s.cfg.MaxBytes != DefaultMaxBytes {
			t.Errorf("New(%q) = %+v", addr, s.cfg)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("empty address accepted")
	}
}

func TestRegistryFactory(t *testing.T) {
	r := telemetry.NewRegistry()
	if err := r.Register("ganglia", Factory); err != nil {
		t.Fatal(err)
	}
	s, err := r.New("ganglia", "addr=127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := s.(*Sensor); !ok || g.cfg.Addr != "127.0.0.1:8649" {
		t.Errorf("sensor = %#v", s)
	}
	if s, err := r.New("ganglia", "match=ip"); err == nil || s != nil {
		t.Errorf("no addr: %v, %v; want an error and a nil sensor", s, err)
	}
}
