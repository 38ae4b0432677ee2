package cli

import (
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
)

func TestExplainText(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	host := int64(2)
	tests := []struct {
		name string
		in   api.Instance
		want string
	}{
		{"pending, unexplained", api.Instance{ID: 7, Name: "vm", State: api.Pending},
			"vm (id 7) is Pending.\nno agent has explained it yet: is a tashi-agent running?"},
		{"pending, explained", api.Instance{ID: 7, Name: "vm", State: api.Pending, Placement: &api.Explanation{
			Message: "no host fits", Rejected: map[string]int{"host drained": 1, "not enough cores": 2}, At: at}},
			"vm (id 7) is Pending.\nno host fits (as of 2024-05-01T12:00:00Z)\n" +
				"       2 hosts: not enough cores\n       1 hosts: host drained"},
		{"placed with data", api.Instance{ID: 7, Name: "vm", State: api.Running, HostID: &host, HostName: "h2",
			Placement: &api.Explanation{Message: "placed on h2", Locality: "locality 130/130 MiB node-local", At: at}},
			"vm (id 7) is Running on host h2.\nplaced on h2 (as of 2024-05-01T12:00:00Z)\nlocality 130/130 MiB node-local"},
	}
	for _, tt := range tests {
		if got := explainText(tt.in); got != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}
