package ganglia

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/plugins/telemetry"
)

func TestConvertGmetad(t *testing.T) {
	stats, skipped := Convert(parseFixture(t, "gmetad.xml"), Match{By: MatchShortName})
	want := map[string]telemetry.HostStats{
		"node1": {Load1: 1.5, CPUs: 8, FreeMemoryMiB: 4096, TotalMemoryMiB: 16384, BytesInPerSec: 1024.5,
			BytesOutPerSec: 2048, Reported: time.Unix(1795264095, 0).UTC(), Source: "ganglia"},
		"node3": {Load1: 0.25, CPUs: 2, FreeMemoryMiB: 1024, TotalMemoryMiB: 2048, BytesInPerSec: 1024.5,
			BytesOutPerSec: 2048, Reported: time.Unix(1795264090, 0).UTC(), Source: "ganglia"},
	}
	if !reflect.DeepEqual(stats, want) {
		t.Errorf("stats:\n got %+v\nwant %+v", stats, want)
	}
	if len(skipped) != 2 || skipped[0].Host != "node2.example.org" || skipped[1].Host != "node4" ||
		!strings.Contains(skipped[1].Reason, `"-1"`) {
		t.Errorf("skipped = %+v, want node2 (no load_one) and node4 (negative)", skipped)
	}
}

func TestMatchHostName(t *testing.T) {
	h := Host{Name: "node7.example.org", IP: "10.0.0.7"}
	tests := []struct {
		m    Match
		want string
	}{
		{Match{}, "node7.example.org"},
		{Match{By: MatchShortName}, "node7"},
		{Match{By: MatchIP}, "10.0.0.7"},
		{Match{By: MatchIP, Map: map[string]string{"node7.example.org": "h7"}}, "h7"},
		{Match{Map: map[string]string{"10.0.0.7": "h7ip"}}, "h7ip"},
		{Match{Map: map[string]string{"other": "x"}}, "node7.example.org"},
	}
	for _, tt := range tests {
		if got := tt.m.HostName(h); got != tt.want {
			t.Errorf("%+v: HostName = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestConvertDuplicatesAndEmptyNames(t *testing.T) {
	metric := map[string]Metric{"load_one": {Name: "load_one", Val: "1"}}
	hosts := []Host{
		{Name: "a.x", IP: "10.0.0.1", Reported: time.Unix(200, 0), Metrics: metric},
		{Name: "a.y", IP: "10.0.0.2", Reported: time.Unix(300, 0), Metrics: metric},
		{Name: "a.z", IP: "10.0.0.3", Reported: time.Unix(100, 0), Metrics: metric},
		{Name: "b", Metrics: metric},
	}
	stats, _ := Convert(hosts, Match{By: MatchShortName})
	if got := stats["a"].Reported; !got.Equal(time.Unix(300, 0)) {
		t.Errorf("a reported %v, want the latest of the three", got)
	}
	stats, skipped := Convert(hosts, Match{By: MatchIP})
	if len(stats) != 3 || len(skipped) != 1 || skipped[0].Host != "b" {
		t.Errorf("by ip: stats %v, skipped %v; want b skipped for its empty IP", stats, skipped)
	}
}

func TestParseMatchBy(t *testing.T) {
	for in, want := range map[string]MatchBy{"": MatchName, "IP": MatchIP, "shortname": MatchShortName} {
		if got, err := ParseMatchBy(in); got != want || err != nil {
			t.Errorf("ParseMatchBy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseMatchBy("fqdn"); err == nil || !strings.Contains(err.Error(), "accepted: name, shortname, ip") {
		t.Errorf("fqdn: err = %v", err)
	}
}
