package configs

import (
	"net/url"
	"regexp"
	"strings"
)

// Dump returns the merged configuration as ini text. Secrets are shown as
// "<redacted>": keys named token or password, or ending in token, password,
// secret or key, and passwords inside keys ending in dsn, uri or url.
// A key not from the embedded defaults is preceded by a comment naming
// where it was set.
func (c *Config) Dump() string {
	return c.dump(true)
}

func (c *Config) dump(redact bool) string {
	var b strings.Builder
	for i, name := range c.order {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("[" + name + "]\n")
		s := c.sections[name]
		for _, lk := range s.order {
			e := s.keys[lk]
			if !strings.HasPrefix(e.origin, embeddedName+":") {
				b.WriteString("# from " + strings.ReplaceAll(e.origin, "\n", " ") + "\n")
			}
			v := e.value
			if redact {
				v = redactValue(lk, v)
			}
			writeKey(&b, e.name, v)
		}
	}
	return b.String()
}

// writeKey writes a value's later lines as indented continuation lines.
func writeKey(b *strings.Builder, name, value string) {
	lines := strings.Split(value, "\n")
	if lines[0] == "" {
		b.WriteString(name + " =\n")
	} else {
		b.WriteString(name + " = " + lines[0] + "\n")
	}
	for _, l := range lines[1:] {
		b.WriteString("\t" + l + "\n")
	}
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// redactValue hides the value of secret keys (lk is lower-cased).
func redactValue(lk, v string) string {
	if v == "" {
		return v
	}
	for _, suffix := range []string{"token", "password", "secret", "key"} {
		if strings.HasSuffix(lk, suffix) {
			return "<redacted>"
		}
	}
	for _, suffix := range []string{"dsn", "uri", "url"} {
		if strings.HasSuffix(lk, suffix) {
			if u, err := url.Parse(v); err == nil && u.User != nil {
				if _, ok := u.User.Password(); ok {
					return strings.Replace(u.Redacted(), ":xxxxx@", ":<redacted>@", 1)
				}
			}
			return dsnPassword.ReplaceAllString(v, "${1}<redacted>")
		}
	}
	return v
}
