package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tashi-go/tashi/clustermanager/cmtest"
	"github.com/tashi-go/tashi/internal/pgtest"
)

func TestMain(m *testing.M) { cmtest.Main(m) }

// TestREADMEDemo runs the README's demo with the real binaries: tashi-cm
// writes ~/.tashi/Client.cfg as `make up` does, then the CLI's verbs run
// against it. Each step checks the output a user would read.
func TestREADMEDemo(t *testing.T) {
	bin := t.TempDir()
	for _, c := range []string{"tashi", "tashi-cm"} {
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/tashi-go/tashi/cmd/"+c).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c, err, out)
		}
	}
	home, state := t.TempDir(), t.TempDir()
	port := cmtest.FreePort(t)
	cm := exec.Command(filepath.Join(bin, "tashi-cm"), "--dsn", pgtest.NewDB(t), "--listen", "127.0.0.1",
		"--port", port, "--state-dir", state, "--client-config", filepath.Join(home, ".tashi", "Client.cfg"))
	cm.Stderr = os.Stderr
	if err := cm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cm.Process.Signal(syscall.SIGINT); _ = cm.Wait() })
	waitHealthy(t, port)
	tashi := func(want string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "tashi"), args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "TASHI_TOKEN=")
		out, err := cmd.CombinedOutput()
		if err != nil && !strings.Contains(string(out), want) {
			t.Fatalf("tashi %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !strings.Contains(string(out), want) {
			t.Fatalf("tashi %s: output lacks %q:\n%s", strings.Join(args, " "), want, out)
		}
		return string(out)
	}
	tashi("node1", "addHost", "--host", "node1", "--cores", "8", "--memory", "16384")
	tashi("tiny.qcow2", "addImage", "--name", "tiny.qcow2")
	tashi("10.10.0.0/24", "addNetwork", "--name", "default", "--kind", "bridge", "--cidr", "10.10.0.0/24")
	tashi("demo admin Pending", "createVm", "--name", "demo", "--cores", "1", "--memory", "256", "--disks", "tiny.qcow2")
	out := tashi("web-4", "createMany", "--basename", "web", "--count", "5", "--memory", "128", "--disks", "tiny.qcow2")
	if strings.Count(out, "Pending") != 5 {
		t.Fatalf("createMany --count 5 printed:\n%s", out)
	}
	tashi("id hostId name  user  state   disk       memory cores", "getInstances")
	tashi("id name  state  instances usedMemory memory usedCores cores", "getVmLayout")
	tashi("cannot pause an instance that is Pending", "pauseVm", "--instance", "demo")
	tashi("already used", "createvm", "--name", "demo", "--disks", "tiny.qcow2")
	tashi("web-0, web-1, web-2, web-3, web-4", "destroyMany", "--basename", "web")
	if out := tashi("demo", "getInstances"); strings.Contains(out, "web-") {
		t.Fatalf("destroyMany left instances:\n%s", out)
	}
}

func waitHealthy(t *testing.T, port string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/v1/health"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatal("tashi-cm did not answer /v1/health")
}
