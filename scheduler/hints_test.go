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
		{in: map[string]string{"dfsFiles": "/data/a,/data/b"}, want: Hints{DFSFiles: []string{"/data/a", "/data/b"}}},
		{in: map[string]string{"dfsFiles": " /data/a ; /data/b,/data/a "}, want: Hints{DFSFiles: []string{"/data/a", "/data/b"}}},
		{in: map[string]string{"dfsFiles": "  "}, want: Hints{}},
		{in: map[string]string{"dfsFiles": "data/a"}, err: `hint dfsFiles="data/a" is not valid: "data/a" is not absolute; accepted: absolute paths separated by commas or semicolons, like /data/a,/data/b`},
		{in: map[string]string{"dfsFiles": "/data/a,,/data/b"}, err: "an empty path; accepted: absolute paths"},
		{in: map[string]string{"dfsFiles": "/data/../etc/passwd"}, err: `is not in clean form (/etc/passwd)`},
		{in: map[string]string{"dfsFiles": "/data/a/"}, err: `"/data/a/" is not in clean form (/data/a)`},
		{in: map[string]string{"dfsFiles": "/data/a\x00"}, err: "has a control character"},
		{in: map[string]string{"dfsFiles": "/data/a\nb"}, err: "has a control character"},
		{in: map[string]string{"dfsFiles": "/" + strings.Repeat("x", MaxDFSPathSize)}, err: "at most 4096"},
		{in: map[string]string{"dfsFiles": strings.Repeat("/a,", MaxDFSFiles) + "/b"}, err: "1001 paths, at most 1000"},
		{in: map[string]string{"loadAware": "yes"}, want: Hints{LoadAware: &yes}},
		{in: map[string]string{"loadAware": "FALSE"}, want: Hints{LoadAware: &no}},
		{in: map[string]string{"loadAware": "sometimes"}, err: `hint loadAware="sometimes" is not a boolean; accepted: yes, true, 1, no, false, 0`},
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
