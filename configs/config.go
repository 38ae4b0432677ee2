package configs

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

//go:embed TashiDefaults.cfg
var embeddedDefaults []byte

// embeddedName is how the compiled-in defaults appear in Sources and errors.
const embeddedName = "(embedded) TashiDefaults.cfg"

// LoadOptions says where Load looks. The zero value means the standard places.
type LoadOptions struct {
	// Dirs are searched for each layer's file, later dirs winning.
	// nil means /usr/share/tashi, /etc/tashi, $HOME/.tashi; an empty
	// non-nil slice means no directories.
	Dirs []string
	// Files are extra files read after the layers and before the
	// environment. A missing extra file is an error.
	Files []string
	// Env looks up HOME, TASHI_CM_HOST, TASHI_CM_PORT and TASHI_TOKEN
	// (empty means unset). Default os.Getenv.
	Env func(string) string
	// Environ lists "NAME=value" pairs; TASHI_<SECTION>_<KEY> entries are
	// applied as overrides. Default os.Environ.
	Environ func() []string
}

// Config is a merged configuration. It is not safe for concurrent Set.
type Config struct {
	sections map[string]*section
	order    []string // section names, first seen first
	sources  []string
}

type section struct {
	keys  map[string]*entry // by lower-cased key
	order []string          // lower-cased keys, first seen first
}

type entry struct {
	name   string // spelling where the key was first seen
	value  string
	origin string // "file:line", "env NAME" or "Set"
}

// Load reads the configuration of program (for example "ClusterManager").
func Load(program string, o LoadOptions) (*Config, error) {
	if program == "" || strings.ContainsAny(program, `/\`) || strings.HasPrefix(program, ".") {
		return nil, fmt.Errorf("load config: bad program name %q: want a plain name such as ClusterManager", program)
	}
	o = o.withDefaults()
	c := newConfig()
	if err := c.parse(embeddedName, embeddedDefaults); err != nil {
		return nil, fmt.Errorf("load %s config: %w", program, err)
	}
	c.sources = append(c.sources, embeddedName)
	for _, name := range []string{"TashiDefaults.cfg", "Tashi.cfg", program + "Defaults.cfg", program + ".cfg"} {
		for _, dir := range o.Dirs {
			if err := c.readFile(filepath.Join(dir, name), true); err != nil {
				return nil, fmt.Errorf("load %s config: %w", program, err)
			}
		}
	}
	for _, path := range o.Files {
		if err := c.readFile(path, false); err != nil {
			return nil, fmt.Errorf("load %s config: %w", program, err)
		}
	}
	c.applyEnv(o)
	return c, nil
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Env == nil {
		o.Env = os.Getenv
	}
	if o.Environ == nil {
		o.Environ = os.Environ
	}
	if o.Dirs == nil {
		o.Dirs = []string{"/usr/share/tashi", "/etc/tashi"}
		if home := o.Env("HOME"); home != "" {
			o.Dirs = append(o.Dirs, filepath.Join(home, ".tashi"))
		}
	}
	return o
}

// readFile merges one file into c. With optional, a file (or directory)
// that does not exist is skipped.
func (c *Config) readFile(path string, optional bool) error {
	data, err := os.ReadFile(path)
	if optional && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	if err := c.parse(path, data); err != nil {
		return err
	}
	c.sources = append(c.sources, path)
	return nil
}

// envAliases are Tashi's own variables, applied before TASHI_<SECTION>_<KEY>.
var envAliases = []struct{ env, section, key string }{
	{"TASHI_CM_HOST", "Client", "clusterManagerHost"},
	{"TASHI_CM_PORT", "Client", "clusterManagerPort"},
	{"TASHI_TOKEN", "Client", "token"},
}

func (c *Config) applyEnv(o LoadOptions) {
	alias := map[string]bool{}
	for _, a := range envAliases {
		alias[a.env] = true
		if v := o.Env(a.env); v != "" {
			c.set(a.section, a.key, v, "env "+a.env)
		}
	}
	for _, kv := range o.Environ() {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || alias[name] || !strings.HasPrefix(name, "TASHI_") {
			continue
		}
		if sec, key := c.matchEnv(strings.TrimPrefix(name, "TASHI_")); sec != "" {
			c.set(sec, key, value, "env "+name)
		}
	}
}

// matchEnv splits "<SECTION>_<KEY>" against the sections already defined,
// preferring the longest section name. It returns "" if none matches.
func (c *Config) matchEnv(rest string) (sec, key string) {
	upper := strings.ToUpper(rest)
	for _, name := range c.order {
		prefix := strings.ToUpper(name) + "_"
		if name != "" && len(prefix) > len(sec) && strings.HasPrefix(upper, prefix) && len(rest) > len(prefix) {
			sec, key = name, strings.ToLower(rest[len(prefix):])
		}
	}
	return sec, key
}

func newConfig() *Config {
	return &Config{sections: map[string]*section{}}
}

func (c *Config) section(name string, create bool) *section {
	s := c.sections[name]
	if s == nil && create {
		s = &section{keys: map[string]*entry{}}
		c.sections[name] = s
		c.order = append(c.order, name)
	}
	return s
}

// set stores value under key, keeping the key's first spelling.
func (s *section) set(key, value, origin string) *entry {
	lk := strings.ToLower(key)
	e := s.keys[lk]
	if e == nil {
		e = &entry{name: key}
		s.keys[lk] = e
		s.order = append(s.order, lk)
	}
	e.value, e.origin = value, origin
	return e
}

func (c *Config) set(section, key, value, origin string) {
	c.section(section, true).set(key, value, origin)
}

func (c *Config) lookup(section, key string) *entry {
	if s := c.section(section, false); s != nil {
		return s.keys[strings.ToLower(key)]
	}
	return nil
}

// String returns the value of key in section, or "" if it is unset.
// Section names are case-sensitive; key names are not.
func (c *Config) String(section, key string) string {
	if e := c.lookup(section, key); e != nil {
		return e.value
	}
	return ""
}

// Set sets key in section, creating either if needed; for flags and tests.
func (c *Config) Set(section, key, value string) {
	c.set(section, key, value, "Set")
}

// Sources lists the files read, in order, the embedded defaults first.
func (c *Config) Sources() []string {
	return append([]string(nil), c.sources...)
}
