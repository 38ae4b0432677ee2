package scheduler

import (
	"strings"
	"testing"

	"github.com/tashi-go/tashi/api"
)

// FuzzParseHints: whatever a user writes in --hints, ParseHints does not
// panic, reports an error exactly when it sets Invalid, and what it
// accepts is well formed.
func FuzzParseHints(f *testing.F) {
	for _, s := range []string{"antiAffinity=web", "affinity=db:soft,gang=true", "targetHost=h1,allowElsewhere=yes",
		"densePack=0,priority=-3", "antiAffinity=:soft", "priority=99999999999", "gang=perhaps"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := api.ParseHints(s)
		if err != nil {
			return
		}
		h, prio, err := ParseHints(m)
		if (err != nil) != (h.Invalid != "") || (err != nil && err.Error() != h.Invalid) {
			t.Fatalf("%q: error %v but Invalid %q", s, err, h.Invalid)
		}
		if err != nil {
			return
		}
		for _, l := range []Label{h.Affinity, h.AntiAffinity} {
			if l.Name != strings.TrimSpace(l.Name) || (l.Soft && l.Name == "") {
				t.Fatalf("%q: label %+v", s, l)
			}
		}
		if prio < -1000000 || prio > 1000000 {
			t.Fatalf("%q: priority %d out of range", s, prio)
		}
	})
}
