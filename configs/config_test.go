package configs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeEnv returns Env and Environ functions over env.
func fakeEnv(env map[string]string) (func(string) string, func() []string) {
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return func(k string) string { return env[k] }, func() []string { return list }
}

// load loads program with dirs, extra files and env, none from the machine.
func load(t *testing.T, program string, dirs, files []string, env map[string]string) *Config {
	t.Helper()
	c, err := loadErr(program, dirs, files, env)
	if err != nil {
		t.Fatalf("Load(%q): %v", program, err)
	}
	return c
}

func loadErr(program string, dirs, files []string, env map[string]string) (*Config, error) {
	if dirs == nil {
		dirs = []string{}
	}
	getenv, environ := fakeEnv(env)
	return Load(program, LoadOptions{Dirs: dirs, Files: files, Env: getenv, Environ: environ})
}

// parseString parses one file's text into a fresh Config.
func parseString(t *testing.T, text string) *Config {
	t.Helper()
	c := newConfig()
	if err := c.parse("test.cfg", []byte(text)); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

func TestEmbeddedDefaults(t *testing.T) {
	c := load(t, "ClusterManager", nil, nil, nil)
	want := map[string]map[string]string{
		"ClusterManagerService": {
			"port": "9882", "expireHostTime": "30.0", "allowMismatchedVersions": "False",
			"maxMemory": "8192", "maxCores": "8", "allowDuplicateNames": "False",
			"defaultNetwork": "default",
		},
		"ClusterManager": {
			"dsn": "", "stateDir": "/var/lib/tashi/cm", "listenAddress": "0.0.0.0",
			"claimTtl": "60", "heartbeatFlush": "1.0", "idempotencyTtl": "86400",
			"adminUser": "admin",
		},
		"Client": {
			"clusterManagerHost": "localhost", "clusterManagerPort": "9882", "token": "",
			"tokenFile": "", "clusterManagerTimeout": "30.0",
		},
		"NodeManagerService": {"port": "9883", "registerFrequency": "10.0"},
		"Vfs":                {"prefix": "/var/tmp/tashi"},
		"Primitive":          {"densePack": "False"},
		"Security":           {"pkiDir": "/var/lib/tashi/pki"},
		"NodeManager":        {"reservedMem": "512", "bridgePrefix": "tashibr", "tapPrefix": "tashi"},
		"Qemu":               {"qemuBin": "qemu-system-x86_64", "machine": "q35", "accel": ""},
		"Agent":              {"claimTtl": "600"},
	}
	got := map[string]map[string]string{}
	for _, name := range c.order {
		got[name] = map[string]string{}
		for _, lk := range c.sections[name].order {
			e := c.sections[name].keys[lk]
			got[name][e.name] = e.value
		}
	}
	for sec, keys := range want { // every key named here has this default; others may exist
		for k, v := range keys {
			if g, ok := got[sec][k]; !ok || g != v {
				t.Errorf("embedded default [%s] %s = %q (set %v), want %q", sec, k, g, ok, v)
			}
		}
	}
	if got := c.Sources(); !reflect.DeepEqual(got, []string{embeddedName}) {
		t.Errorf("Sources() = %q, want only the embedded defaults", got)
	}
}

// Every key in the shipped defaults has a comment line just above it.
func TestEmbeddedDefaultsDocumented(t *testing.T) {
	lines := strings.Split(string(embeddedDefaults), "\n")
	for i, l := range lines {
		if l == "" || l[0] == '#' || l[0] == '[' {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "# ") {
			t.Errorf("TashiDefaults.cfg:%d: key %q has no comment line above it", i+1, l)
		}
	}
}

// The typed getters accept every shipped default.
func TestEmbeddedDefaultsTyped(t *testing.T) {
	c := load(t, "Client", nil, nil, nil)
	for _, k := range [][2]string{
		{"ClusterManagerService", "expireHostTime"}, {"ClusterManager", "claimTtl"},
		{"ClusterManager", "heartbeatFlush"}, {"ClusterManager", "idempotencyTtl"},
		{"Client", "clusterManagerTimeout"}, {"NodeManagerService", "registerFrequency"},
	} {
		if _, err := c.Duration(k[0], k[1]); err != nil {
			t.Error(err)
		}
	}
	for _, k := range [][2]string{
		{"ClusterManagerService", "port"}, {"ClusterManagerService", "maxMemory"},
		{"ClusterManagerService", "maxCores"}, {"Client", "clusterManagerPort"},
		{"NodeManagerService", "port"},
	} {
		if _, err := c.Int(k[0], k[1]); err != nil {
			t.Error(err)
		}
	}
	for _, k := range [][2]string{
		{"ClusterManagerService", "allowMismatchedVersions"},
		{"ClusterManagerService", "allowDuplicateNames"}, {"Primitive", "densePack"},
	} {
		if _, err := c.Bool(k[0], k[1]); err != nil {
			t.Error(err)
		}
	}
}

func TestLayeringOrder(t *testing.T) {
	type file struct {
		dir  int // index into the three search dirs; -1 for an extra file
		name string
	}
	tests := []struct {
		name  string
		files []file
		env   map[string]string
		want  string // which file's value wins; "" means the embedded default
	}{
		{"nothing installed", nil, nil, ""},
		{"Tashi.cfg over embedded", []file{{0, "Tashi.cfg"}}, nil, "0/Tashi.cfg"},
		{"later dir wins for the same name", []file{{0, "Tashi.cfg"}, {2, "Tashi.cfg"}, {1, "Tashi.cfg"}}, nil, "2/Tashi.cfg"},
		{"Tashi.cfg over TashiDefaults.cfg in a later dir", []file{{2, "TashiDefaults.cfg"}, {0, "Tashi.cfg"}}, nil, "0/Tashi.cfg"},
		{"program defaults over Tashi.cfg", []file{{2, "Tashi.cfg"}, {0, "ClusterManagerDefaults.cfg"}}, nil, "0/ClusterManagerDefaults.cfg"},
		{"program file over program defaults", []file{{2, "ClusterManagerDefaults.cfg"}, {0, "ClusterManager.cfg"}}, nil, "0/ClusterManager.cfg"},
		{"other programs' files are not read", []file{{0, "Tashi.cfg"}, {2, "NodeManager.cfg"}, {2, "Client.cfg"}}, nil, "0/Tashi.cfg"},
		{"extra file over every layer", []file{{2, "ClusterManager.cfg"}, {-1, "extra.cfg"}}, nil, "-1/extra.cfg"},
		{"env over extra file", []file{{-1, "extra.cfg"}}, map[string]string{"TASHI_CLUSTERMANAGERSERVICE_MAXCORES": "env"}, "env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
			extraDir := t.TempDir()
			var extra []string
			for _, f := range tt.files {
				content := fmt.Sprintf("[ClusterManagerService]\nmaxCores = %d/%s\n", f.dir, f.name)
				if f.dir < 0 {
					extra = append(extra, writeFile(t, extraDir, f.name, content))
				} else {
					writeFile(t, dirs[f.dir], f.name, content)
				}
			}
			c := load(t, "ClusterManager", dirs, extra, tt.env)
			want := tt.want
			if want == "" {
				want = "8"
			}
			if got := c.String("ClusterManagerService", "maxCores"); got != want {
				t.Errorf("maxCores = %q, want %q", got, want)
			}
		})
	}
}

func TestSourcesOrder(t *testing.T) {
	d0, d1, d2, x := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	sec := "[Test]\nk = v\n"
	// Written out of order on purpose.
	writeFile(t, d2, "NodeManager.cfg", sec)
	writeFile(t, d2, "ClusterManager.cfg", sec)
	writeFile(t, d0, "ClusterManager.cfg", sec)
	writeFile(t, d1, "ClusterManagerDefaults.cfg", sec)
	writeFile(t, d2, "Tashi.cfg", sec)
	writeFile(t, d0, "Tashi.cfg", sec)
	writeFile(t, d1, "TashiDefaults.cfg", sec)
	e1 := writeFile(t, x, "b.cfg", sec)
	e2 := writeFile(t, x, "a.cfg", sec)
	c := load(t, "ClusterManager", []string{d0, d1, d2, filepath.Join(x, "missing")}, []string{e1, e2}, nil)
	want := []string{
		embeddedName,
		filepath.Join(d1, "TashiDefaults.cfg"),
		filepath.Join(d0, "Tashi.cfg"),
		filepath.Join(d2, "Tashi.cfg"),
		filepath.Join(d1, "ClusterManagerDefaults.cfg"),
		filepath.Join(d0, "ClusterManager.cfg"),
		filepath.Join(d2, "ClusterManager.cfg"),
		e1, e2,
	}
	if got := c.Sources(); !reflect.DeepEqual(got, want) {
		t.Errorf("Sources()\n got %q\nwant %q", got, want)
	}
}

func TestDefaultDirsUseHome(t *testing.T) {
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".tashi"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, filepath.Join(home, ".tashi"), "Client.cfg", "[Client]\nclusterManagerHost = cm.example\n")
	getenv, environ := fakeEnv(map[string]string{"HOME": home})
	c, err := Load("Client", LoadOptions{Env: getenv, Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String("Client", "clusterManagerHost"); got != "cm.example" {
		t.Errorf("clusterManagerHost = %q, want cm.example from %s", got, path)
	}
	if src := c.Sources(); src[len(src)-1] != path {
		t.Errorf("last source = %q, want %q", src[len(src)-1], path)
	}
}

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		section, key  string
		want          string
		wantAbsentKey bool
	}{
		{"generic", map[string]string{"TASHI_CLUSTERMANAGERSERVICE_MAXCORES": "16"}, "ClusterManagerService", "maxCores", "16", false},
		{"generic key with underscore-free camel case", map[string]string{"TASHI_CLIENT_CLUSTERMANAGERTIMEOUT": "5"}, "Client", "clusterManagerTimeout", "5", false},
		{"TASHI_CM_HOST", map[string]string{"TASHI_CM_HOST": "cm1"}, "Client", "clusterManagerHost", "cm1", false},
		{"TASHI_CM_PORT", map[string]string{"TASHI_CM_PORT": "1234"}, "Client", "clusterManagerPort", "1234", false},
		{"TASHI_TOKEN", map[string]string{"TASHI_TOKEN": "s3cret"}, "Client", "token", "s3cret", false},
		{"empty alias is unset", map[string]string{"TASHI_CM_HOST": ""}, "Client", "clusterManagerHost", "localhost", false},
		{"generic beats alias", map[string]string{"TASHI_CM_HOST": "a", "TASHI_CLIENT_CLUSTERMANAGERHOST": "b"}, "Client", "clusterManagerHost", "b", false},
		{"generic may set empty", map[string]string{"TASHI_CLUSTERMANAGER_STATEDIR": ""}, "ClusterManager", "stateDir", "", false},
		{"generic adds a new key", map[string]string{"TASHI_PRIMITIVE_HOOK1": "dhcpdns"}, "Primitive", "hook1", "dhcpdns", false},
		{"unknown section ignored", map[string]string{"TASHI_NOSUCH_KEY": "x"}, "NOSUCH", "key", "", true},
		{"lower-case prefix ignored", map[string]string{"tashi_client_token": "x"}, "Client", "token", "", false},
		{"section with no key ignored", map[string]string{"TASHI_CLIENT_": "x"}, "Client", "", "", true},
		{"longest section wins", map[string]string{"TASHI_A_B_C": "x"}, "A_B", "c", "x", false},
		{"shorter section when longer does not match", map[string]string{"TASHI_A_X": "y"}, "A", "x", "y", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "Tashi.cfg", "[A]\n[A_B]\n")
			c := load(t, "Client", []string{dir}, nil, tt.env)
			if got := c.String(tt.section, tt.key); got != tt.want {
				t.Errorf("%s.%s = %q, want %q", tt.section, tt.key, got, tt.want)
			}
			if absent := c.lookup(tt.section, tt.key) == nil; absent != tt.wantAbsentKey {
				t.Errorf("%s.%s absent = %v, want %v", tt.section, tt.key, absent, tt.wantAbsentKey)
			}
		})
	}
}

func TestEnvOverrideOriginInErrors(t *testing.T) {
	c := load(t, "Client", nil, nil, map[string]string{"TASHI_CM_PORT": "http"})
	_, err := c.Int("Client", "clusterManagerPort")
	if err == nil || !strings.Contains(err.Error(), "env TASHI_CM_PORT") {
		t.Errorf("Int error = %v, want it to name env TASHI_CM_PORT", err)
	}
}

func TestCaseInsensitiveKeys(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "Tashi.cfg", "[ClusterManagerService]\nMAXCORES = 3\n[clustermanagerservice]\nport = 1\n")
	c := load(t, "ClusterManager", []string{dir}, nil, nil)
	for _, key := range []string{"maxCores", "maxcores", "MAXCORES", "MaxCores"} {
		if got := c.String("ClusterManagerService", key); got != "3" {
			t.Errorf("String(ClusterManagerService, %q) = %q, want 3", key, got)
		}
	}
	if got := c.String("ClusterManagerService", "port"); got != "9882" {
		t.Errorf("port = %q, want 9882: sections are case-sensitive", got)
	}
	if got := c.String("clustermanagerservice", "PORT"); got != "1" {
		t.Errorf("[clustermanagerservice] PORT = %q, want 1", got)
	}
	if got := c.String("clustermanagerservice", "maxCores"); got != "" {
		t.Errorf("[clustermanagerservice] maxCores = %q, want unset", got)
	}
	if !strings.Contains(c.Dump(), "\nmaxCores = 3\n") {
		t.Errorf("Dump should keep the first spelling maxCores:\n%s", c.Dump())
	}
	c.Set("ClusterManagerService", "MaxCores", "4")
	if got := c.String("ClusterManagerService", "maxcores"); got != "4" {
		t.Errorf("after Set, maxcores = %q, want 4", got)
	}
}

func TestSet(t *testing.T) {
	c := load(t, "Client", nil, nil, nil)
	c.Set("New", "Key", "v")
	if got := c.String("New", "key"); got != "v" {
		t.Errorf("New.key = %q, want v", got)
	}
	if got := c.String("Nope", "key"); got != "" {
		t.Errorf("unset = %q, want empty", got)
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{"yes", true, false}, {"TRUE", true, false}, {"1", true, false}, {"On", true, false},
		{"no", false, false}, {"False", false, false}, {"0", false, false}, {"OFF", false, false},
		{"y", false, true}, {"2", false, true}, {"", false, true}, {"truee", false, true},
	}
	for _, tt := range tests {
		c := newConfig()
		c.Set("S", "k", tt.in)
		got, err := c.Bool("S", "k")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Bool(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30", 30 * time.Second, false},
		{"30.0", 30 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"0", 0, false},
		{"1e-3", time.Millisecond, false},
		{"500ms", 500 * time.Millisecond, false},
		{"2m", 2 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"-1", 0, true},
		{"-5s", 0, true},
		{"NaN", 0, true},
		{"inf", 0, true},
		{"1e300", 0, true},
		{"ten", 0, true},
		{"", 0, true},
		{"30 s", 0, true},
	}
	for _, tt := range tests {
		c := newConfig()
		c.Set("S", "k", tt.in)
		got, err := c.Duration("S", "k")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Duration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIntFloat(t *testing.T) {
	ints := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"8", 8, false}, {"-3", -3, false}, {"+4", 4, false},
		{"8.0", 0, true}, {"0x10", 0, true}, {"", 0, true}, {"eight", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, tt := range ints {
		c := newConfig()
		c.Set("S", "k", tt.in)
		got, err := c.Int("S", "k")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Int(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	floats := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"30.0", 30, false}, {"0.5", 0.5, false}, {"-2", -2, false}, {"1e3", 1000, false},
		{"NaN", 0, true}, {"Inf", 0, true}, {"", 0, true}, {"1,5", 0, true},
	}
	for _, tt := range floats {
		c := newConfig()
		c.Set("S", "k", tt.in)
		got, err := c.Float("S", "k")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Float(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestBadValueErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "Tashi.cfg", "[ClusterManagerService]\n\nmaxcores = eight\nallowDuplicateNames = maybe\nexpireHostTime = soon\nport = 9882.5\n")
	c := load(t, "ClusterManager", []string{dir}, nil, nil)
	tests := []struct {
		name string
		get  func() error
		want []string
	}{
		{"int", func() error { _, err := c.Int("ClusterManagerService", "MAXCORES"); return err },
			[]string{"ClusterManagerService.maxCores", `"eight"`, path + ":3", "whole number"}},
		{"bool", func() error { _, err := c.Bool("ClusterManagerService", "allowduplicatenames"); return err },
			[]string{"ClusterManagerService.allowDuplicateNames", `"maybe"`, path + ":4", "yes, true, 1, on, no, false, 0 or off"}},
		{"duration", func() error { _, err := c.Duration("ClusterManagerService", "expireHostTime"); return err },
			[]string{"ClusterManagerService.expireHostTime", `"soon"`, "seconds", "500ms"}},
		{"float", func() error { _, err := c.Float("ClusterManagerService", "expireHostTime"); return err },
			[]string{"ClusterManagerService.expireHostTime", `"soon"`, "a number"}},
		{"int of float", func() error { _, err := c.Int("ClusterManagerService", "port"); return err },
			[]string{"ClusterManagerService.port", `"9882.5"`, path + ":6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.get()
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValueError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestNotSet(t *testing.T) {
	c := load(t, "Client", nil, nil, nil)
	for _, get := range []func() error{
		func() error { _, err := c.Int("Client", "nope"); return err },
		func() error { _, err := c.Float("Nope", "x"); return err },
		func() error { _, err := c.Bool("Client", "nope"); return err },
		func() error { _, err := c.Duration("client", "clusterManagerTimeout"); return err },
	} {
		if err := get(); !errors.Is(err, ErrNotSet) {
			t.Errorf("error = %v, want ErrNotSet", err)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.cfg")
	bad := writeFile(t, dir, "bad.cfg", "[Client]\nport = 1\nnonsense\n")
	badLayer := t.TempDir()
	writeFile(t, badLayer, "ClientDefaults.cfg", "# comment\nkey = outside\n")
	notDir := writeFile(t, dir, "plainfile", "")
	tests := []struct {
		name    string
		program string
		dirs    []string
		files   []string
		want    string
	}{
		{"missing extra file", "Client", nil, []string{missing}, missing},
		{"extra file parse error", "Client", nil, []string{bad}, bad + ":3: expected"},
		{"layer parse error", "Client", []string{badLayer}, nil, filepath.Join(badLayer, "ClientDefaults.cfg") + ":2: key"},
		{"empty program", "", nil, nil, "bad program name"},
		{"program with slash", "../x", nil, nil, "bad program name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadErr(tt.program, tt.dirs, tt.files, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// A search dir that is a file, or does not exist, is skipped.
	if _, err := loadErr("Client", []string{notDir, missing}, nil, nil); err != nil {
		t.Errorf("Load with unusable search dirs: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		want       string
	}{
		{"key before section", "\n# c\nport = 1\n", 3, "outside any [section]"},
		{"no separator", "[S]\nport 1\n", 2, `expected "key = value"`},
		{"missing key", "[S]\n= 1\n", 2, "missing key name"},
		{"unclosed header", "[S]\n[T\n", 2, "no closing ]"},
		{"empty header", "[]\n", 1, "empty section name"},
		{"junk after header", "[S] x\n", 1, `unexpected "x"`},
		{"indent continues nothing", "[S]\n  value\n", 2, "continues no key"},
		{"indent after header", "[S]\na = 1\n[T]\n  b\n", 4, "continues no key"},
		{"crlf line counting", "[S]\r\na = 1\r\nbad\r\n", 3, `"bad"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newConfig().parse("f.cfg", []byte(tt.text))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("parse error = %v, want *ParseError", err)
			}
			if pe.File != "f.cfg" || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.want) {
				t.Errorf("error = %v, want f.cfg:%d: ...%s...", err, tt.line, tt.want)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("f.cfg:%d: ", tt.line)) {
				t.Errorf("error %q does not start with file:line", err)
			}
		})
	}
}

func TestParseSyntax(t *testing.T) {
	c := parseString(t, "\ufeff# comment\n; comment\n[S]\r\n"+
		"a = 1\n"+
		"b: two words \n"+
		"c = x ;inline comment\n"+
		"d = x;not a comment\n"+
		"d2 =;comment\n"+
		"e = \"\"\n"+
		"f =\n"+
		"g = first\n  second\n\n\tthird ; kept\n"+
		"   # indented comment\n"+
		"h = a=b:c\n"+
		"a = again\n"+
		"[T] ; comment\n"+
		"i = 1\n"+
		"[S]\n"+
		"j = reopened\n"+
		"sp ace = ok\n")
	want := map[string]string{
		"a": "again", "b": "two words", "c": "x", "d": "x;not a comment", "d2": "", "e": "", "f": "",
		"g": "first\nsecond\nthird ; kept", "h": "a=b:c", "j": "reopened", "sp ace": "ok",
	}
	for k, v := range want {
		if got := c.String("S", k); got != v {
			t.Errorf("S.%s = %q, want %q", k, got, v)
		}
	}
	if got := c.String("T", "i"); got != "1" {
		t.Errorf("T.i = %q, want 1", got)
	}
	if !reflect.DeepEqual(c.order, []string{"S", "T"}) {
		t.Errorf("sections = %q, want [S T]", c.order)
	}
}

func TestDump(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "Tashi.cfg", "[Client]\n"+
		"token = abc123\n"+
		"[AccessClusterManager]\n"+
		"Password = hunter2\n"+
		"username = bob\n"+
		"[DhcpDns]\n"+
		"dnsSecretKey = k3y\n"+
		"dnsKeyName = name\n"+
		"[ClusterManager]\n"+
		"dsn = postgres://tashi:pw@db/tashi\n"+
		"[SQL]\n"+
		"uri = host=db user=tashi password=pw2 dbname=tashi\n")
	c := load(t, "Client", []string{dir}, nil, map[string]string{"TASHI_CM_HOST": "cm9"})
	out := c.Dump()
	for _, secret := range []string{"abc123", "hunter2", "k3y", ":pw@", "pw2"} {
		if strings.Contains(out, secret) {
			t.Errorf("Dump shows secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		"token = <redacted>\n", "Password = <redacted>\n", "dnsSecretKey = <redacted>\n",
		"username = bob\n", "dnsKeyName = name\n",
		"dsn = postgres://tashi:<redacted>@db/tashi\n",
		"uri = host=db user=tashi password=<redacted> dbname=tashi\n",
		"tokenFile =\n", // empty values are shown as empty
		"# from " + path + ":2\ntoken",
		"# from env TASHI_CM_HOST\nclusterManagerHost = cm9\n",
		"[Security]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Dump lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "from "+embeddedName) {
		t.Errorf("Dump notes the origin of embedded defaults:\n%s", out)
	}
	// The dump parses back, redactions included.
	again := parseString(t, out)
	if got := again.String("Client", "clusterManagerHost"); got != "cm9" {
		t.Errorf("reparsed clusterManagerHost = %q, want cm9", got)
	}
}
