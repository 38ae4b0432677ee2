package scheduler

import (
	"slices"
	"testing"
	"time"
)

// One host with room for two 2-core VMs; who gets it?
func TestPriorityAndFIFO(t *testing.T) {
	at := func(s int) reqOpt { return created(t0.Add(time.Duration(s) * time.Second)) }
	cases := []struct {
		name string
		reqs []Request
		want []int64 // placed, in decision order
	}{
		{"higher priority first", []Request{
			reqN(101, 2, 1024, at(0)), reqN(102, 2, 1024, at(1), prio(5)), reqN(103, 2, 1024, at(2), prio(1)),
		}, []int64{102, 103}},
		{"priority hint", []Request{
			reqN(101, 2, 1024, at(0)), reqN(102, 2, 1024, at(1), hints("priority=-1")), reqN(103, 2, 1024, at(2), hints("priority=3")),
		}, []int64{103, 101}},
		{"FIFO within a priority", []Request{
			reqN(101, 2, 1024, at(30)), reqN(102, 2, 1024, at(10)), reqN(103, 2, 1024, at(20)),
		}, []int64{102, 103}},
		{"then instance id", []Request{
			reqN(103, 2, 1024, at(0)), reqN(101, 2, 1024, at(0)), reqN(102, 2, 1024, at(0)),
		}, []int64{101, 102}},
		{"a request that does not fit does not block smaller ones", []Request{
			reqN(101, 8, 1024, prio(9)), reqN(102, 2, 1024), reqN(103, 2, 1024),
		}, []int64{102, 103}},
		{"a gang takes the place of its first member", []Request{
			reqN(101, 3, 1024, at(5)),
			reqN(102, 1, 1024, at(1), group(4), hints("gang=true")),
			reqN(103, 1, 1024, at(9), group(4), hints("gang=true")),
		}, []int64{102, 103}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap := cluster(hostN("h1", 4, 4096))
			res := Place(snap, c.reqs, t0.Add(time.Hour))
			var got []int64
			for _, p := range res.Placements {
				got = append(got, p.InstanceID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("placed %v, want %v; unplaced %v", got, c.want, res.Unplaced)
			}
		})
	}
}
