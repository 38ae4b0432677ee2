package telemetry

import (
	"errors"
	"strings"
	"testing"
)

func TestParseLinkModel(t *testing.T) {
	m, err := ParseLinkModel("latencyCore=0.8  OVERSUBSCRIPTION=2 # comment\nnicBandwidth=125")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultLinkModel()
	want.LatencyCoreMs, want.Oversubscription, want.NICMBps = 0.8, 2, 125
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if m, err := ParseLinkModel(""); err != nil || m != DefaultLinkModel() {
		t.Errorf("empty text = %+v, %v; want the defaults", m, err)
	}
}

func TestParseLinkModelErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"latency=1", `unknown key "latency"; accepted keys: latencyHost, latencySwitch, latencyCore, memoryBandwidth, nicBandwidth, oversubscription`},
		{"nicBandwidth", `expected key=value, got "nicBandwidth"`},
		{"\nnicBandwidth=0", `line 2: bad value for nicBandwidth: "0"; accepted: a number > 0 (MB/s)`},
		{"oversubscription=0.5", "accepted: a number >= 1 (ratio)"},
		{"latencyHost=-1", "accepted: a number >= 0 (ms)"},
		{"latencyHost=NaN", "bad value for latencyHost"},
		{"memoryBandwidth=fast", `bad value for memoryBandwidth: "fast"`},
	}
	for _, tt := range tests {
		_, err := ParseLinkModel(tt.text)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLinkModel(%q) = %v, want a ParseError with %q", tt.text, err, tt.want)
		}
	}
}

func TestLinkModelValidate(t *testing.T) {
	if err := DefaultLinkModel().Validate(); err != nil {
		t.Errorf("default model: %v", err)
	}
	m := DefaultLinkModel()
	m.Oversubscription = 0
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "oversubscription") {
		t.Errorf("oversubscription 0: err = %v", err)
	}
}

// FuzzParseLinkModel: no panics, and what parses is valid.
func FuzzParseLinkModel(f *testing.F) {
	f.Add("latencyCore=0.8 oversubscription=2\nnicBandwidth=125")
	f.Add("memoryBandwidth=1e400")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseLinkModel(text)
		if err == nil {
			if verr := m.Validate(); verr != nil {
				t.Fatalf("ParseLinkModel(%q) accepted an invalid model: %v", text, verr)
			}
		}
	})
}
