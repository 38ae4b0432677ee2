package configs

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// parse reads ini text into c, attributing each value to file. Values from
// data override values already in c. On error c may hold part of the file.
func (c *Config) parse(file string, data []byte) error {
	text := strings.TrimPrefix(string(data), "\ufeff")
	var sec *section
	var last *entry // the key an indented line continues
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';':
			continue
		case startsWithSpace(line):
			if last == nil {
				return perr(file, n, "indented line %s continues no key", quote(trimmed))
			}
			last.value += "\n" + trimmed
		case trimmed[0] == '[':
			name, err := parseHeader(trimmed)
			if err != "" {
				return perr(file, n, "%s", err)
			}
			sec, last = c.section(name, true), nil
		default:
			if sec == nil {
				return perr(file, n, "key %s is outside any [section]", quote(trimmed))
			}
			key, value, err := parseOption(trimmed)
			if err != "" {
				return perr(file, n, "%s", err)
			}
			last = sec.set(key, value, fmt.Sprintf("%s:%d", file, n))
		}
	}
	return nil
}

// parseHeader returns the name in "[name]", which may be followed by a comment.
func parseHeader(line string) (name, problem string) {
	end := strings.IndexByte(line, ']')
	if end < 0 {
		return "", fmt.Sprintf("section header %s has no closing ]", quote(line))
	}
	name = line[1:end]
	if name == "" {
		return "", "empty section name []"
	}
	if rest := strings.TrimSpace(line[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
		return "", fmt.Sprintf("unexpected %s after section header [%s]", quote(rest), name)
	}
	return name, ""
}

// parseOption splits "key = value" or "key: value" as ConfigParser does:
// the first = or : separates, a ';' at the start of the value or after
// whitespace starts a comment, and "" means empty.
func parseOption(line string) (key, value, problem string) {
	sep := strings.IndexAny(line, "=:")
	if sep < 0 {
		return "", "", fmt.Sprintf("expected \"key = value\" or \"[section]\", got %s", quote(line))
	}
	key = strings.TrimSpace(line[:sep])
	if key == "" {
		return "", "", fmt.Sprintf("missing key name in %s", quote(line))
	}
	value = stripInlineComment(line[sep+1:])
	if value == `""` {
		value = ""
	}
	return key, value, ""
}

// stripInlineComment drops a ';' that starts v or follows whitespace, and what
// comes after it, and trims the result.
func stripInlineComment(v string) string {
	for i, r := range v {
		if r == ';' {
			prev, _ := utf8.DecodeLastRuneInString(v[:i])
			if i == 0 || unicode.IsSpace(prev) {
				v = v[:i]
				break
			}
		}
	}
	return strings.TrimSpace(v)
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

func perr(file string, line int, format string, args ...any) error {
	return &ParseError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// quote quotes s for an error message, shortening long lines.
func quote(s string) string {
	const max = 60
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return fmt.Sprintf("%q", s)
}
