package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/api"
)

func sp(s string) *string { return &s }

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		in   string // split on spaces
		want cmdline
	}{
		{name: "verb and values", in: "createVm --name a --cores 2",
			want: cmdline{verb: "createVm", args: map[string]*string{"name": sp("a"), "cores": sp("2")},
				order: []string{"name", "cores"}}},
		{name: "value starting with -- means no value", in: "createVm --name --cores 2",
			want: cmdline{verb: "createVm", args: map[string]*string{"name": nil, "cores": sp("2")},
				order: []string{"name", "cores"}}},
		{name: "last argument without value", in: "addNetwork --default",
			want: cmdline{verb: "addNetwork", args: map[string]*string{"default": nil},
				order: []string{"default"}}},
		{name: "repeated argument: last wins", in: "createVm --hints a=1 --hints b=2",
			want: cmdline{verb: "createVm", args: map[string]*string{"hints": sp("b=2")},
				order: []string{"hints"}}},
		{name: "equals form", in: "createVm --hints=a=1,b=2 --name=",
			want: cmdline{verb: "createVm", args: map[string]*string{"hints": sp("a=1,b=2"), "name": sp("")},
				order: []string{"hints", "name"}}},
		{name: "single-dash value is a value", in: "createVm --cores -1",
			want: cmdline{verb: "createVm", args: map[string]*string{"cores": sp("-1")},
				order: []string{"cores"}}},
		{name: "argument names in any case", in: "createVm --NAME a",
			want: cmdline{verb: "createVm", args: map[string]*string{"name": sp("a")},
				order: []string{"name"}}},
		{name: "globals anywhere, switches take no value", in: "--json getHosts --show-stats.load1 --hide-ALL -h --examples",
			want: cmdline{verb: "getHosts", json: true, help: true, examples: true,
				columns: []colOp{{true, "stats.load1"}, {false, "all"}}}},
		{name: "config takes a value and repeats", in: "--config a.cfg getHosts --config=b.cfg",
			want: cmdline{verb: "getHosts", configs: []string{"a.cfg", "b.cfg"}}},
		{name: "positional words after the verb", in: "help createVm",
			want: cmdline{verb: "help", pos: []string{"createVm"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseArgs(strings.Fields(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.args == nil {
				tt.want.args = map[string]*string{}
			}
			got.typed = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("parseArgs(%q)\n got %+v\nwant %+v", tt.in, *got, tt.want)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	for in, want := range map[string]string{
		"getHosts --json=yes":      "--json takes no value",
		"getHosts --show-":         "need a column name",
		"getHosts --config":        "--config needs a file name",
		"getHosts --config --json": "--config needs a file name",
		"getHosts -x":              `"-x" is not an argument`,
		"getHosts --":              "has no argument name",
		"getHosts --=1":            "has no argument name",
	} {
		_, err := parseArgs(strings.Fields(in))
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("parseArgs(%q) error = %v; want usage error containing %q", in, err, want)
		}
	}
}

// bindLine parses line and binds it to its verb.
func bindLine(t *testing.T, line string) (vals, error) {
	t.Helper()
	c, err := parseArgs(strings.Fields(line))
	if err != nil {
		t.Fatal(err)
	}
	vb, err := builtinVerbs().lookup(c.verb)
	if err != nil {
		return nil, err
	}
	return bind(vb, c)
}

func TestBind(t *testing.T) {
	tests := []struct {
		line string
		want vals
	}{
		{"CREATEVM --name a --disks x.qcow2", vals{"name": "a", "cores": 1, "memory": 128,
			"disks": []api.Disk{{URI: "x.qcow2"}}}},
		{"createvm --name a --disks x:true --cores --memory 512 --nics :: --hints k=v", vals{"name": "a",
			"cores": 1, "memory": 512, "disks": []api.Disk{{URI: "x", Persistent: true}},
			"nics": []api.NIC{{}}, "hints": map[string]string{"k": "v"}}},
		{"setHostState --host h --state drained", vals{"host": "h", "state": "Drained"}},
		{"addNetwork --name n --default", vals{"name": "n", "kind": "bridge", "default": true}},
		{"addNetwork --name n --default no --kind VLAN", vals{"name": "n", "kind": "vlan", "default": false}},
		{"addUser --name bob --maxCores 0", vals{"name": "bob", "role": "user", "maxCores": 0}},
		{"getSlots", vals{"cores": 1, "memory": 128}},
		{"vmmSpecificCall --instance a --arg startVnc", vals{"instance": "a", "arg": "startVnc", "timeout": 30}},
	}
	for _, tt := range tests {
		got, err := bindLine(t, tt.line)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("bind %q = %#v, %v\nwant %#v", tt.line, got, err, tt.want)
		}
	}
}

func TestBindErrors(t *testing.T) {
	for line, want := range map[string]string{
		"getinstance":                                  `unknown verb "getinstance"; did you mean getInstances, getMyInstances?`,
		"createVm --disks a":                           "missing required argument --name",
		"createVm --name --disks a":                    "--name needs a value",
		"createVm --name a":                            "missing required argument --disks",
		"createVm --name a --disks a --cores x":        `--cores must be a whole number >= 1; got "x"`,
		"createVm --name a --disks a --memory 0":       "--memory must be a whole number >= 1",
		"createMany --basename b --disks a --count -2": "--count must be a whole number >= 1",
		"createVm --name a --disks a --bogus 1":        "unknown argument --bogus for createVm; createVm takes --userId, --name",
		"createVm --name a --disks a:maybe":            "--disks: disk 1",
		"createVm --name a --disks a --nics :1.2.3":    "not an IPv4 address",
		"createVm --name a --disks a --hints __x=1":    "reserved for the system",
		"setHostState --host h --state up":             `--state "up" is not accepted; accepted: Normal, Drained`,
		"addUser --name a --role root":                 "accepted: user, admin, nodemanager, agent",
		"addNetwork --name n --default maybe":          "--default",
		"getHosts --instance 1":                        "getHosts takes no arguments",
	} {
		_, err := bindLine(t, line)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error = %v; want usage error containing %q", line, err, want)
		}
	}
}

func TestRegistry(t *testing.T) {
	reg := builtinVerbs()
	for _, vb := range reg.list {
		if vb.run == nil || vb.summary == "" || len(vb.examples) == 0 {
			t.Errorf("verb %s lacks a handler, summary or example", vb.name)
		}
		for _, ex := range vb.examples {
			if strings.HasPrefix(ex, "tashi ") && vb.pos == "" {
				if _, err := bindLine(t, ex[len("tashi "):]); err != nil && !strings.Contains(ex, `"`) {
					t.Errorf("example %q does not bind: %v", ex, err)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate verb did not panic")
		}
	}()
	newRegistry([]*verb{{name: "a"}}, []*verb{{name: "A"}})
}

// FuzzArgs: parsing never panics; what parses re-serializes in --arg=value
// form to the same command line; binding to any verb never panics and
// fails only with usage errors.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{"createVm --name a --disks x:true --cores 2",
		"createVm --name --cores 2", "--json getHosts --show-all --hide-id",
		"getSlots --cores=3 --memory", "--config a getHosts -h", "help createVm",
		"addNetwork --default --name n", "setQuota --user u --maxCores -1"} {
		f.Add(s)
	}
	reg := builtinVerbs()
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseArgs(strings.Split(line, " "))
		if err != nil {
			if _, ok := err.(*usageError); !ok {
				t.Fatalf("parseArgs(%q): %v is not a usage error", line, err)
			}
			return
		}
		again, err := parseArgs(reserialize(c))
		if err != nil || !sameLine(c, again) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", line, again, err, c)
		}
		for _, vb := range reg.list {
			if _, _, err := check(vb, c); err != nil {
				if _, ok := err.(*usageError); !ok {
					t.Fatalf("check %s on %q: %v is not a usage error", vb.name, line, err)
				}
			}
		}
	})
}

func reserialize(c *cmdline) []string {
	var out []string
	if c.verb != "" {
		out = append(out, c.verb)
	}
	out = append(out, c.pos...)
	for _, n := range c.order {
		if v := c.args[n]; v != nil {
			out = append(out, "--"+c.typed[n]+"="+*v)
		} else {
			out = append(out, "--"+c.typed[n])
		}
	}
	for _, f := range c.configs {
		out = append(out, "--config="+f)
	}
	for _, op := range c.columns {
		out = append(out, map[bool]string{true: "--show-", false: "--hide-"}[op.show]+op.col)
	}
	for on, s := range map[*bool]string{&c.json: "--json", &c.help: "--help", &c.examples: "--examples"} {
		if *on {
			out = append(out, s)
		}
	}
	return out
}

func sameLine(a, b *cmdline) bool {
	return a.verb == b.verb && reflect.DeepEqual(a.pos, b.pos) && reflect.DeepEqual(a.args, b.args) &&
		reflect.DeepEqual(a.order, b.order) && reflect.DeepEqual(a.configs, b.configs) &&
		reflect.DeepEqual(a.columns, b.columns) && a.json == b.json && a.help == b.help &&
		a.examples == b.examples
}
