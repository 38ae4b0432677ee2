package scheduler

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// The hint keys the scheduler reads. Other keys are left to other parts
// of the system and ignored here.
const (
	HintTargetHost     = "targetHost"     // host id or name
	HintAllowElsewhere = "allowElsewhere" // boolean, with targetHost
	HintDensePack      = "densePack"      // boolean, overrides the site default
	HintAffinity       = "affinity"       // label[:soft|:hard]
	HintAntiAffinity   = "antiAffinity"   // label[:soft|:hard]
	HintGang           = "gang"           // boolean: all of the group or none
	HintPriority       = "priority"       // integer, higher first
	HintDFSFiles       = "dfsFiles"       // absolute paths, comma-separated
	HintLoadAware      = "loadAware"      // boolean, overrides the site default
)

// Limits of the dfsFiles hint.
const (
	MaxDFSFiles    = 1000 // paths in one hint
	MaxDFSPathSize = 4096 // bytes in one path
)

// ParseHints reads the scheduler's hints from an instance's hint map and
// the priority hint (0 when absent). Booleans are Tashi's: yes, true, 1,
// no, false, 0 in any case. Labels are hard unless suffixed ":soft".
// dfsFiles is a list of absolute paths (see parseDFSFiles). On a
// bad value it returns the first error and the hints it could read, with
// Invalid set, so that a gang member with a bad hint still sinks its gang.
func ParseHints(m map[string]string) (Hints, int, error) {
	var h Hints
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	h.TargetHost = strings.TrimSpace(m[HintTargetHost])
	var err error
	h.AllowElsewhere, err = hintBool(m, HintAllowElsewhere)
	keep(err)
	h.Gang, err = hintBool(m, HintGang)
	keep(err)
	if v, ok := m[HintDensePack]; ok {
		b, err := parseBool(HintDensePack, v)
		if keep(err); err == nil {
			h.DensePack = &b
		}
	}
	h.Affinity, err = parseLabel(HintAffinity, m[HintAffinity])
	keep(err)
	h.AntiAffinity, err = parseLabel(HintAntiAffinity, m[HintAntiAffinity])
	keep(err)
	if v, ok := m[HintLoadAware]; ok {
		b, err := parseBool(HintLoadAware, v)
		if keep(err); err == nil {
			h.LoadAware = &b
		}
	}
	h.DFSFiles, err = parseDFSFiles(m)
	keep(err)
	prio, err := parsePriority(m)
	keep(err)
	if len(errs) > 0 {
		h.Invalid = errs[0].Error()
		return h, prio, errs[0]
	}
	return h, prio, nil
}

func parsePriority(m map[string]string) (int, error) {
	v, ok := m[HintPriority]
	if !ok {
		return 0, nil
	}
	p, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || p < -1000000 || p > 1000000 {
		return 0, fmt.Errorf("hint priority=%q is not valid; accepted: an integer in -1000000..1000000", v)
	}
	return p, nil
}

func hintBool(m map[string]string, key string) (bool, error) {
	v, ok := m[key]
	if !ok {
		return false, nil
	}
	return parseBool(key, v)
}

func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "1":
		return true, nil
	case "no", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("hint %s=%q is not a boolean; accepted: yes, true, 1, no, false, 0", key, v)
}

// parseLabel reads "web", "web:hard" or "web:soft".
func parseLabel(key, v string) (Label, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return Label{}, nil
	}
	name, mode, _ := strings.Cut(v, ":")
	l := Label{Name: strings.TrimSpace(name)}
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "", "hard":
	case "soft":
		l.Soft = true
	default:
		return Label{}, fmt.Errorf("hint %s=%q is not valid; accepted: label, label:hard or label:soft", key, v)
	}
	if l.Name == "" {
		return Label{}, fmt.Errorf("hint %s=%q has an empty label; accepted: label, label:hard or label:soft", key, v)
	}
	return l, nil
}

// parseDFSFiles reads dfsFiles: absolute paths in clean form (no "." or
// ".." elements, no doubled or trailing "/"), separated by commas or
// semicolons (a --hints string splits on commas, so on the command line
// the paths are separated by ";"), at most MaxDFSFiles of them, each at
// most MaxDFSPathSize bytes, without control characters. Duplicates are
// dropped; the order is kept. Absent or blank: nil.
func parseDFSFiles(m map[string]string) ([]string, error) {
	v, ok := m[HintDFSFiles]
	if !ok || strings.TrimSpace(v) == "" {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("hint %s=%q is not valid: %s; accepted: absolute paths separated by commas or semicolons, like /data/a,/data/b",
			HintDFSFiles, short(v), why)
	}
	items := strings.Split(strings.ReplaceAll(v, ";", ","), ",")
	if len(items) > MaxDFSFiles {
		return nil, bad(fmt.Sprintf("%d paths, at most %d", len(items), MaxDFSFiles))
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		f := strings.TrimSpace(it)
		switch {
		case f == "":
			return nil, bad("an empty path")
		case len(f) > MaxDFSPathSize:
			return nil, bad(fmt.Sprintf("a path of %d bytes, at most %d", len(f), MaxDFSPathSize))
		case !strings.HasPrefix(f, "/"):
			return nil, bad(fmt.Sprintf("%q is not absolute", short(f)))
		case strings.IndexFunc(f, unicode.IsControl) >= 0:
			return nil, bad(fmt.Sprintf("%q has a control character", short(f)))
		case path.Clean(f) != f:
			return nil, bad(fmt.Sprintf("%q is not in clean form (%s)", short(f), short(path.Clean(f))))
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, bad("no path")
	}
	return out, nil
}

// short cuts s to 80 bytes for an error message.
func short(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:77] + "..."
}
