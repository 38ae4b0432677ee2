package dns

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const keygenOutput = `key "tashi-update" {
	algorithm hmac-sha256;
	secret "JYnouylEnoOTwKdi59jqzolT8ojbjPRsTw88xp7yYHU=";
};
`

func TestParseKey(t *testing.T) {
	want := Key{Name: "tashi-update", Algorithm: "hmac-sha256", Secret: "JYnouylEnoOTwKdi59jqzolT8ojbjPRsTw88xp7yYHU="}
	good := map[string]string{
		"tsig-keygen": keygenOutput,
		"comments": "# made by hand\n// for tashi\n/* multi\nline */ key \"tashi-update\" { # c\n" +
			"algorithm hmac-sha256; // c\n secret \"JYnouylEnoOTwKdi59jqzolT8ojbjPRsTw88xp7yYHU=\"; };",
		"unquoted, one line, reordered": `key tashi-update{secret "JYnouylEnoOTwKdi59jqzolT8ojbjPRsTw88xp7yYHU=";algorithm hmac-sha256;};`,
	}
	for name, text := range good {
		k, err := ParseKey([]byte(text))
		if err != nil || k != want {
			t.Errorf("%s: ParseKey = %+v, %v; want %+v", name, k, err, want)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	tests := []struct{ name, text, message string }{
		{"empty", "  # nothing\n", "no key statement"},
		{"two keys", keygenOutput + keygenOutput, `line 5: unexpected "key" after the key`},
		{"no semicolon", strings.Replace(keygenOutput, "hmac-sha256;", "hmac-sha256", 1), `line 3: expected ";", found "secret"`},
		{"no closing", strings.TrimSuffix(keygenOutput, "};\n"), `expected algorithm, secret or }, found "end of file"`},
		{"unknown clause", strings.Replace(keygenOutput, "algorithm", "algo", 1), `line 2: expected algorithm, secret or }, found "algo"`},
		{"md5", strings.Replace(keygenOutput, "hmac-sha256", "hmac-md5", 1), "use hmac-sha256"},
		{"no algorithm", strings.Replace(keygenOutput, "algorithm hmac-sha256;", "", 1), "invalid key algorithm"},
		{"bad secret", strings.Replace(keygenOutput, "JYnou", "JY#nou", 1), "not base64"},
		{"no secret", strings.Replace(keygenOutput, "secret", "#", 1), "not base64"},
		{"unterminated string", "key \"tashi-update {\n", "line 1: unterminated string"},
		{"unterminated comment", "/* key", "unterminated /* comment"},
		{"not a key", "options { };", `line 1: expected "key", found "options"`},
		{"bad name", strings.Replace(keygenOutput, "tashi-update", "", 1), "invalid key name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey([]byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("ParseKey = %+v, %v; want an error containing %q", k, err, tt.message)
			}
			if strings.Contains(err.Error(), "JYnou") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tsig.key")
	if kg, err := exec.LookPath("tsig-keygen"); err == nil {
		out, err := exec.Command(kg, "-a", "hmac-sha512", "site-key").Output()
		if err != nil {
			t.Fatalf("tsig-keygen: %v", err)
		}
		os.WriteFile(path, out, 0o600)
	} else {
		t.Log("tsig-keygen not installed; using a fixed key file")
		os.WriteFile(path, []byte(strings.NewReplacer("tashi-update", "site-key", "sha256", "sha512").Replace(keygenOutput)), 0o600)
	}
	k, err := ReadKeyFile(path)
	if err != nil || k.Name != "site-key" || k.Algorithm != "hmac-sha512" || k.Secret == "" {
		t.Errorf("ReadKeyFile = %+v, %v", k, err)
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(path, []byte("key x {"), 0o600)
	if _, err := ReadKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad file: %v, want an error naming %s", err, path)
	}
}
