package scheduler

import (
	"path"
	"slices"
	"strings"
	"testing"
	"unicode"

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

// FuzzParseDFSFiles: whatever the values of dfsFiles and loadAware (as
// the API's JSON hint map may carry them, commas included), ParseHints
// does not panic, reports an error exactly when it sets Invalid, and the
// paths it accepts are absolute, clean, free of separators and control
// characters, distinct, within the limits, and read back the same when
// joined again.
func FuzzParseDFSFiles(f *testing.F) {
	for _, s := range [][2]string{{"/data/a,/data/b", "true"}, {" /x ; /y/z ", "no"}, {"data/a", ""},
		{"/a/../b", "1"}, {"/a//b,", "maybe"}, {"/a\x00", "0"}, {",", "yes"}, {"/", "TRUE"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, files, load string) {
		h, _, err := ParseHints(map[string]string{HintDFSFiles: files, HintLoadAware: load})
		if (err != nil) != (h.Invalid != "") || (err != nil && err.Error() != h.Invalid) {
			t.Fatalf("%q %q: error %v but Invalid %q", files, load, err, h.Invalid)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "accepted: ") {
				t.Fatalf("%q %q: error %q does not say what is accepted", files, load, err)
			}
			return
		}
		if h.LoadAware == nil {
			t.Fatalf("%q: loadAware %q accepted but not set", files, load)
		}
		if len(h.DFSFiles) > MaxDFSFiles || (len(h.DFSFiles) == 0) != (strings.TrimSpace(files) == "") {
			t.Fatalf("%q: %d paths", files, len(h.DFSFiles))
		}
		seen := map[string]bool{}
		for _, p := range h.DFSFiles {
			if !strings.HasPrefix(p, "/") || path.Clean(p) != p || len(p) > MaxDFSPathSize || seen[p] ||
				strings.ContainsAny(p, ",;") || strings.IndexFunc(p, unicode.IsControl) >= 0 || p != strings.TrimSpace(p) {
				t.Fatalf("%q: accepted path %q", files, p)
			}
			seen[p] = true
		}
		if len(h.DFSFiles) > 0 {
			again, _, err := ParseHints(map[string]string{HintDFSFiles: strings.Join(h.DFSFiles, ",")})
			if err != nil || !slices.Equal(again.DFSFiles, h.DFSFiles) {
				t.Fatalf("%q: %q reads back as %q (%v)", files, h.DFSFiles, again.DFSFiles, err)
			}
		}
	})
}
