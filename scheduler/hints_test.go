package scheduler

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHints(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		in   map[string]string
		want Hints
		prio int
		err  string
	}{
		{in: nil, want: Hints{}},
		{in: map[string]string{"targetHost": "r3r2u40", "allowElsewhere": "True"},
			want: Hints{TargetHost: "r3r2u40", AllowElsewhere: true}},
		{in: map[string]string{"densePack": "yes"}, want: Hints{DensePack: &yes}},
		{in: map[string]string{"densePack": "0"}, want: Hints{DensePack: &no}},
		{in: map[string]string{"antiAffinity": "web"}, want: Hints{AntiAffinity: Label{Name: "web"}}},
		{in: map[string]string{"antiAffinity": "web:soft", "affinity": "db:hard"},
			want: Hints{AntiAffinity: Label{Name: "web", Soft: true}, Affinity: Label{Name: "db"}}},
		{in: map[string]string{"gang": "true", "priority": "7"}, want: Hints{Gang: true}, prio: 7},
		{in: map[string]string{"nics": "ignored", "__resume_source": "x"}, want: Hints{}},
		{in: map[string]string{"gang": "true", "densePack": "maybe"}, want: Hints{Gang: true},
			err: `hint densePack="maybe" is not a boolean`},
		{in: map[string]string{"antiAffinity": "web:sometimes"}, err: "accepted: label, label:hard or label:soft"},
		{in: map[string]string{"affinity": ":soft"}, err: "has an empty label"},
		{in: map[string]string{"priority": "high"}, err: "accepted: an integer in -1000000..1000000"},
	}
	for _, c := range cases {
		got, prio, err := ParseHints(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || got.Invalid != err.Error() {
				t.Errorf("%v: error %v (Invalid %q), want one containing %q", c.in, err, got.Invalid, c.err)
			}
			got.Invalid = ""
		} else if err != nil {
			t.Errorf("%v: %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) || prio != c.prio {
			t.Errorf("%v: got %+v prio %d, want %+v prio %d", c.in, got, prio, c.want, c.prio)
		}
	}
}
