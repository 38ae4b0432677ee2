package cli

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tashi-go/tashi/api"
)

// kind is how an argument's value is checked and converted.
type kind int

const (
	kString kind = iota
	kInt         // a whole number >= arg.min
	kBool        // Tashi's boolean(); given without a value it means true
	kChoice      // one of arg.choices, in any case
	kDisks       // api.ParseDisks
	kNICs        // api.ParseNICs
	kHints       // api.ParseHints
)

// arg describes one --argument of a verb.
type arg struct {
	name     string
	kind     kind
	required bool
	def      string   // default, as it would be typed; "" for none
	min      int      // kInt: smallest accepted value
	choices  []string // kChoice: accepted values, canonical spelling
	help     string
}

// vals holds a verb's converted arguments by name; absent optional
// arguments are missing from it.
type vals map[string]any

func (v vals) has(name string) bool { _, ok := v[name]; return ok }
func (v vals) str(name string) string {
	s, _ := v[name].(string)
	return s
}
func (v vals) int(name string) int {
	n, _ := v[name].(int)
	return n
}
func (v vals) bool(name string) bool {
	b, _ := v[name].(bool)
	return b
}

// intp is an optional integer: nil when the argument was not given.
func (v vals) intp(name string) *int {
	if n, ok := v[name].(int); ok {
		return &n
	}
	return nil
}

// bind checks c's arguments against verb vb and converts them. Every
// error is a usage error naming the argument and what it accepts.
func bind(vb *verb, c *cmdline) (vals, error) {
	for _, lname := range c.order {
		if vb.arg(lname) == nil {
			return nil, usagef("unknown argument --%s for %s; %s", c.typed[lname], vb.name, vb.argList())
		}
	}
	out := vals{}
	for i := range vb.args {
		a := &vb.args[i]
		raw, err := rawValue(a, c)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			if a.required {
				return nil, usagef("missing required argument --%s (%s)", a.name, a.help)
			}
			continue
		}
		if out[a.name], err = convert(a, *raw); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rawValue is the text of a's value: as given, else its default; nil if
// neither. Given without a value, a boolean means true; others use their
// default (Tashi's rule), and a required one is an error.
func rawValue(a *arg, c *cmdline) (*string, error) {
	v, given := c.args[strings.ToLower(a.name)]
	switch {
	case given && v != nil:
		return v, nil
	case given && a.kind == kBool:
		t := "true"
		return &t, nil
	case given && a.required && a.def == "":
		return nil, usagef("--%s needs a value (%s); a word starting with -- is never a value", a.name, a.help)
	case a.def != "":
		d := a.def
		return &d, nil
	}
	return nil, nil
}

// convert parses s as a's kind.
func convert(a *arg, s string) (any, error) {
	switch a.kind {
	case kInt:
		return parseInt(a, s)
	case kBool:
		return wrapParse(api.ParseBool(a.name, s))
	case kChoice:
		return parseChoice(a, s)
	case kDisks:
		return wrapParse(api.ParseDisks(s))
	case kNICs:
		return wrapParse(api.ParseNICs(s))
	case kHints:
		return wrapParse(api.ParseHints(s))
	}
	if a.required && strings.TrimSpace(s) == "" {
		return nil, usagef("--%s must not be empty (%s)", a.name, a.help)
	}
	return s, nil
}

func parseInt(a *arg, s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < a.min {
		return 0, usagef("--%s must be a whole number >= %d; got %q", a.name, a.min, s)
	}
	return n, nil
}

func parseChoice(a *arg, s string) (string, error) {
	for _, c := range a.choices {
		if strings.EqualFold(c, strings.TrimSpace(s)) {
			return c, nil
		}
	}
	return "", usagef("--%s %q is not accepted; accepted: %s", a.name, s, strings.Join(a.choices, ", "))
}

// wrapParse turns an api parser's *api.Error into a usage error.
func wrapParse[T any](v T, err error) (any, error) {
	var e *api.Error
	if errors.As(err, &e) {
		return nil, usagef("--%s", e.Message)
	}
	return v, err
}
