package scheduler

import (
	"fmt"
	"strconv"
	"strings"
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
)

// ParseHints reads the scheduler's hints from an instance's hint map and
// the priority hint (0 when absent). Booleans are Tashi's: yes, true, 1,
// no, false, 0 in any case. Labels are hard unless suffixed ":soft". On a
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
