package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBashCompletion loads the script in a real bash and asks it to
// complete a few command lines.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	out, err := runCompletion(&req{pos: []string{"bash"}, app: &app{verbs: builtinVerbs()}})
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "tashi.bash")
	driver := out.text + `
try() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _tashi; echo "${COMPREPLY[*]}"; }
try tashi createM
try tashi createvm --na
try tashi setHostState --state ""
try tashi setHostState --state --h
try tashi getHosts --show-stats.l
try tashi help getMy
try tashi completion ""
try tashi --config x.cfg getSl
`
	if err := os.WriteFile(script, []byte(driver), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(bash, "--norc", script).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, got)
	}
	want := []string{"createMany", "--name", "Normal Drained", "--host --help",
		"--show-stats.load1", "getMyInstances", "bash zsh --json --help --examples --config", "getSlots"}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("bash printed:\n%s", got)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("completion %d = %q, want %q", i, lines[i], w)
		}
	}
}
