package cli

import "strings"

// cmdline is a command line split the way Tashi splits it, before its
// arguments are checked against a verb (see bind.go).
type cmdline struct {
	verb  string             // as typed; "" when there is none
	pos   []string           // words after the verb that are no argument's value
	args  map[string]*string // lower-cased name -> value; nil: given without a value
	order []string           // lower-cased names, first use first
	typed map[string]string  // lower-cased name -> as first typed, for messages

	json     bool
	help     bool
	examples bool
	configs  []string // --config files, in order
	columns  []colOp  // --show-*/--hide-*, in order
}

// colOp is one --show-<col> or --hide-<col>; col "all" means every column.
type colOp struct {
	show bool
	col  string
}

// parseArgs splits tokens (the command line without the program name).
// A word starting with "--" is an argument; its value is the next word
// unless that word starts with "--", or the part after "=" in --arg=value.
// The first other word is the verb. Global switches take no value.
func parseArgs(tokens []string) (*cmdline, error) {
	c := &cmdline{args: map[string]*string{}, typed: map[string]string{}}
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case tok == "-h":
			c.help = true
		case strings.HasPrefix(tok, "--"):
			used, err := c.flag(tok[2:], tokens[i+1:])
			if err != nil {
				return nil, err
			}
			i += used
		case strings.HasPrefix(tok, "-") && tok != "-":
			return nil, usagef("%q is not an argument: arguments start with -- (as in --name value)", tok)
		case c.verb == "":
			c.verb = tok
		default:
			c.pos = append(c.pos, tok)
		}
	}
	return c, nil
}

// flag handles one "--" word (without the dashes) and returns how many of
// the following words it used as its value.
func (c *cmdline) flag(word string, rest []string) (int, error) {
	name, val, hasVal := strings.Cut(word, "=")
	lname := strings.ToLower(name)
	if name == "" {
		return 0, usagef("%q has no argument name; arguments look like --name value", "--"+word)
	}
	if sw := c.switchFor(lname); sw != nil {
		if hasVal {
			return 0, usagef("--%s takes no value (got %q)", name, val)
		}
		return 0, sw()
	}
	used := 0
	var v *string
	switch {
	case hasVal:
		v = &val
	case len(rest) > 0 && !strings.HasPrefix(rest[0], "--"):
		v, used = &rest[0], 1
	}
	if lname == "config" {
		return used, c.addConfig(v)
	}
	if _, seen := c.args[lname]; !seen {
		c.order = append(c.order, lname)
		c.typed[lname] = name
	}
	c.args[lname] = v // a repeated argument overrides the earlier one
	return used, nil
}

// switchFor returns the action of a global switch, or nil if name is none.
func (c *cmdline) switchFor(lname string) func() error {
	set := func(b *bool) func() error { return func() error { *b = true; return nil } }
	switch lname {
	case "json":
		return set(&c.json)
	case "help":
		return set(&c.help)
	case "examples":
		return set(&c.examples)
	}
	if col, ok := strings.CutPrefix(lname, "show-"); ok {
		return func() error { return c.addColumn(true, col) }
	}
	if col, ok := strings.CutPrefix(lname, "hide-"); ok {
		return func() error { return c.addColumn(false, col) }
	}
	return nil
}

func (c *cmdline) addColumn(show bool, col string) error {
	if col == "" {
		return usagef("--show- and --hide- need a column name, as in --show-hostName or --hide-all")
	}
	c.columns = append(c.columns, colOp{show: show, col: col})
	return nil
}

func (c *cmdline) addConfig(v *string) error {
	if v == nil || *v == "" {
		return usagef("--config needs a file name, as in --config ./Client.cfg")
	}
	c.configs = append(c.configs, *v)
	return nil
}
