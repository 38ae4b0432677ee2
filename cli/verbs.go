package cli

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/tashi-go/tashi/api"
)

// verb is one tashi command.
type verb struct {
	name     string
	group    string // groupClient, groupAdmin or groupOther
	summary  string
	pos      string // positional words it takes, for usage ("[verb]"); "" for none
	args     []arg
	examples []string
	rows     reflect.Type       // element type of the table it prints; nil: it prints text
	local    bool               // runs without the cluster manager
	check    func(v vals) error // extra usage checks before calling; nil: none
	run      func(r *req) (output, error)
}

const (
	groupClient = "client verbs"
	groupAdmin  = "admin verbs (Tashi's tashi-admin)"
	groupOther  = "other"
)

// req is what a handler gets.
type req struct {
	ctx context.Context
	cm  *api.Client // nil for local verbs
	v   vals
	pos []string
	app *app
}

// output is what a handler returns: --json prints raw (or text when raw is
// nil); otherwise the table of rows (a slice) is printed, then text.
type output struct {
	raw  any
	rows any
	text string
}

func (vb *verb) arg(lname string) *arg {
	for i := range vb.args {
		if strings.ToLower(vb.args[i].name) == lname {
			return &vb.args[i]
		}
	}
	return nil
}

// argList says which arguments vb takes, for error messages.
func (vb *verb) argList() string {
	if len(vb.args) == 0 {
		return vb.name + " takes no arguments"
	}
	names := make([]string, len(vb.args))
	for i, a := range vb.args {
		names[i] = "--" + a.name
	}
	return vb.name + " takes " + strings.Join(names, ", ")
}

// registry is the verb table, built where the program is wired.
type registry struct {
	list   []*verb
	byName map[string]*verb // lower-cased name
}

// newRegistry builds the table; a duplicate name (in any case) is a bug.
func newRegistry(groups ...[]*verb) *registry {
	r := &registry{byName: map[string]*verb{}}
	for _, g := range groups {
		for _, vb := range g {
			l := strings.ToLower(vb.name)
			if r.byName[l] != nil {
				panic("cli: verb " + vb.name + " registered twice")
			}
			r.byName[l] = vb
			r.list = append(r.list, vb)
		}
	}
	return r
}

// builtinVerbs is tashi's whole verb table.
func builtinVerbs() *registry {
	return newRegistry(inGroup(groupClient, clientVerbs()), inGroup(groupClient, telemetryVerbs()), inGroup(groupAdmin, adminVerbs()),
		inGroup(groupOther, otherVerbs()))
}

func inGroup(group string, vs []*verb) []*verb {
	for _, vb := range vs {
		vb.group = group
	}
	return vs
}

// lookup finds a verb in any case; an unknown verb is a usage error that
// lists close matches.
func (r *registry) lookup(name string) (*verb, error) {
	if vb := r.byName[strings.ToLower(name)]; vb != nil {
		return vb, nil
	}
	msg := fmt.Sprintf("unknown verb %q", name)
	if near := r.near(name); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, ", ") + "?"
	}
	return nil, usagef("%s", msg)
}

// near lists up to five verbs close to name: sharing a substring of it,
// or within a small edit distance.
func (r *registry) near(name string) []string {
	l := strings.ToLower(name)
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, vb := range r.list {
		vl := strings.ToLower(vb.name)
		d := editDistance(l, vl)
		if d <= max(2, len(l)/3) || (len(l) >= 3 && strings.Contains(vl, l)) {
			cs = append(cs, cand{vb.name, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i := 0; i < len(cs) && i < 5; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Argument builders, to keep the tables below readable.

func required(name, help string) arg { return arg{name: name, required: true, help: help} }
func optional(name, help string) arg { return arg{name: name, help: help} }
func number(name, def string, min int, help string) arg {
	return arg{name: name, kind: kInt, def: def, min: min, help: help}
}
func requiredNumber(name string, min int, help string) arg {
	return arg{name: name, kind: kInt, required: true, min: min, help: help}
}
func choice(name, def string, choices []string, help string) arg {
	return arg{name: name, kind: kChoice, def: def, choices: choices, help: help}
}

var (
	instanceArg = required("instance", "instance id or name")
	hostArg     = required("host", "host id or name")
	basenameArg = required("basename", "instances named <basename>-<number>")
)

func rowsOf[T any]() reflect.Type { return reflect.TypeFor[T]() }
