package configs

import (
	"reflect"
	"testing"
)

// values flattens c to section -> lower-cased key -> value.
func values(c *Config) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, name := range c.order {
		m := map[string]string{}
		for lk, e := range c.sections[name].keys {
			m[lk] = e.value
		}
		out[name] = m
	}
	return out
}

// FuzzParse checks that parsing never panics and that whatever parses
// survives a dump and re-parse unchanged.
func FuzzParse(f *testing.F) {
	f.Add(embeddedDefaults)
	for _, s := range []string{
		"", "[S]\na = 1\n", "[S]\na = x ;c\n  more\n\tlines ; kept\n", "\ufeff[S]\r\nk: v\r\n",
		"k = v", "[", "[]", "[S] ; c\n= v\n", "[S]\n  x\n", "[S]\ne = \"\"\n", "[a]b]\nk=v\n",
		"[S]\nK = 1\nk = 2\n[S]\nk = 3\n", "[S]\na =;x\n\v b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConfig()
		if err := c.parse("fuzz.cfg", data); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		_ = c.Dump()
		out := c.dump(false)
		again := newConfig()
		if err := again.parse("dump.cfg", []byte(out)); err != nil {
			t.Fatalf("dump does not parse: %v\ninput %q\ndump %q", err, data, out)
		}
		if a, b := values(c), values(again); !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed values\ninput %q\n got %q\nwant %q", data, b, a)
		}
	})
}
