package dns

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	mdns "github.com/miekg/dns"
)

// Key is a TSIG key shared with the site's DNS server.
type Key struct {
	Name      string // as the server knows it, e.g. "tashi-update"
	Algorithm string // hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512
	Secret    string // base64
}

// algorithms maps the names BIND uses to miekg's.
var algorithms = map[string]string{
	"hmac-sha1":   mdns.HmacSHA1,
	"hmac-sha224": mdns.HmacSHA224,
	"hmac-sha256": mdns.HmacSHA256,
	"hmac-sha384": mdns.HmacSHA384,
	"hmac-sha512": mdns.HmacSHA512,
}

// ReadKeyFile reads a BIND key file holding one key, as tsig-keygen and
// ddns-confgen write it (Tashi's dnsKeyFile):
//
//	key "tashi-update" {
//		algorithm hmac-sha256;
//		secret "c2VjcmV0...";
//	};
func ReadKeyFile(path string) (Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("read tsig key file: %w", err)
	}
	k, err := ParseKey(data)
	if err != nil {
		return Key{}, fmt.Errorf("read tsig key file %s: %w", path, err)
	}
	return k, nil
}

// ParseKey parses the text of a BIND key file holding exactly one key
// statement; #, // and /* */ comments are allowed.
func ParseKey(text []byte) (Key, error) {
	toks, err := tokenize(string(text))
	if err != nil {
		return Key{}, err
	}
	p := &keyParser{toks: toks}
	k, err := p.key()
	if err != nil {
		return Key{}, err
	}
	if !p.done() {
		t := p.next()
		return Key{}, fmt.Errorf("line %d: unexpected %q after the key; put one key in the file", t.line, t.text)
	}
	return k, k.check()
}

// check validates the key's fields.
func (k Key) check() error {
	if _, ok := mdns.IsDomainName(k.Name); !ok || k.Name == "" || strings.ContainsAny(k.Name, " \t\\") {
		return &FieldError{Field: "key name", Value: k.Name, Reason: "not a domain name such as tashi-update"}
	}
	if _, ok := algorithms[strings.ToLower(k.Algorithm)]; !ok {
		return &FieldError{Field: "key algorithm", Value: k.Algorithm,
			Reason: "use hmac-sha256 (or hmac-sha1, -sha224, -sha384, -sha512)"}
	}
	b, err := base64.StdEncoding.DecodeString(k.Secret)
	if err != nil || len(b) == 0 {
		return &FieldError{Field: "key secret", Value: "(hidden)", Reason: "not base64, as tsig-keygen writes it"}
	}
	return nil
}

// tsig returns the key name and algorithm as miekg wants them.
func (k Key) tsig() (name, alg string) {
	return strings.ToLower(mdns.Fqdn(k.Name)), algorithms[strings.ToLower(k.Algorithm)]
}

type token struct {
	text   string
	quoted bool
	eof    bool
	line   int
}

// tokenize splits named.conf syntax into words, quoted strings and the
// punctuation { } ;, dropping comments.
func tokenize(s string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || strings.HasPrefix(s[i:], "//"):
			i += lineEnd(s[i:])
		case strings.HasPrefix(s[i:], "/*"):
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			line += strings.Count(s[i:i+2+end], "\n")
			i += end + 4
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, token{text: s[i : i+1], line: line})
			i++
		case c == '"':
			end := strings.IndexAny(s[i+1:], "\"\n")
			if end < 0 || s[i+1+end] != '"' {
				return nil, fmt.Errorf("line %d: unterminated string", line)
			}
			toks = append(toks, token{text: s[i+1 : i+1+end], quoted: true, line: line})
			i += end + 2
		default:
			end := strings.IndexAny(s[i:], " \t\r\n{};\"#")
			if end < 0 {
				end = len(s) - i
			}
			toks = append(toks, token{text: s[i : i+end], line: line})
			i += end
		}
	}
	return toks, nil
}

func lineEnd(s string) int {
	if n := strings.IndexByte(s, '\n'); n >= 0 {
		return n
	}
	return len(s)
}

type keyParser struct {
	toks []token
	pos  int
}

func (p *keyParser) done() bool { return p.pos >= len(p.toks) }

func (p *keyParser) next() token {
	if p.done() {
		last := 0
		if len(p.toks) > 0 {
			last = p.toks[len(p.toks)-1].line
		}
		return token{text: "end of file", eof: true, line: last}
	}
	p.pos++
	return p.toks[p.pos-1]
}

// expect consumes the punctuation or keyword want.
func (p *keyParser) expect(want string) error {
	if t := p.next(); t.quoted || !strings.EqualFold(t.text, want) {
		return fmt.Errorf("line %d: expected %q, found %q", t.line, want, t.text)
	}
	return nil
}

// value consumes a word or string that is not punctuation.
func (p *keyParser) value(what string) (string, error) {
	t := p.next()
	if t.eof || !t.quoted && (t.text == "{" || t.text == "}" || t.text == ";") {
		return "", fmt.Errorf("line %d: expected the %s, found %q", t.line, what, t.text)
	}
	return t.text, nil
}

// key parses: key NAME { algorithm ALG ; secret "B64" ; } ;
func (p *keyParser) key() (Key, error) {
	if p.done() {
		return Key{}, errors.New("no key statement found")
	}
	var k Key
	var err error
	if err = p.expect("key"); err != nil {
		return Key{}, err
	}
	if k.Name, err = p.value("key name"); err != nil {
		return Key{}, err
	}
	if err = p.expect("{"); err != nil {
		return Key{}, err
	}
	if err = p.clauses(&k); err != nil {
		return Key{}, err
	}
	return k, p.expect(";")
}

// clauses parses the body of a key statement up to and including "}".
func (p *keyParser) clauses(k *Key) error {
	for {
		t := p.next()
		var dst *string
		switch {
		case !t.quoted && t.text == "}":
			return nil
		case !t.quoted && strings.EqualFold(t.text, "algorithm"):
			dst = &k.Algorithm
		case !t.quoted && strings.EqualFold(t.text, "secret"):
			dst = &k.Secret
		default:
			return fmt.Errorf("line %d: expected algorithm, secret or }, found %q", t.line, t.text)
		}
		v, err := p.value(t.text)
		if err != nil {
			return err
		}
		*dst = v
		if err := p.expect(";"); err != nil {
			return err
		}
	}
}
