package cli

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAPIErrors(t *testing.T) {
	r := runCM(t, "shutdownVm --instance x", exchange{method: "POST", uri: "/v1/instances/x/shutdown",
		status: 404, reply: `{"code":"not_found","field":"instance","message":"no instance named x"}`})
	if r.code != 1 || r.err != "tashi: shutdownVm: no instance named x (not_found)\n" || r.out != "" {
		t.Errorf("exit %d, stderr %q, stdout %q", r.code, r.err, r.out)
	}
	r = runCM(t, "getHosts", exchange{method: "GET", uri: "/v1/hosts", status: 502, reply: "bad gateway"})
	if r.code != 1 || !strings.Contains(r.err, "tashi: getHosts: HTTP 502: bad gateway (internal)") {
		t.Errorf("exit %d, stderr %q", r.code, r.err)
	}
}

func TestJSONOutput(t *testing.T) {
	r := runCM(t, "getInstances --json", exchange{method: "GET", uri: "/v1/instances?mine=false",
		reply: "[" + instWeb1 + "]"})
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got) != 1 || got[0]["name"] != "web1" ||
		got[0]["hostId"] != nil {
		t.Errorf("--json: %v\n%s", err, r.out)
	}
	r = runCM(t, "--json shutdownVm --instance web1", exchange{method: "POST",
		uri: "/v1/instances/web1/shutdown", reply: `{"message":"bye"}`})
	if r.out != "{\n  \"message\": \"bye\"\n}\n" {
		t.Errorf("--json message: %q", r.out)
	}
	r = runCM(t, "getSlots --json", exchange{method: "GET", uri: "/v1/slots?cores=1&memory=128",
		reply: `{"cores":1,"memory":128,"slots":3}`})
	if !strings.Contains(r.out, `"slots": 3`) || strings.Contains(r.out, "available") {
		t.Errorf("--json getSlots: %q", r.out)
	}
}

func TestVMMCallOutcomes(t *testing.T) {
	post := exchange{method: "POST", uri: "/v1/instances/web1/vmmSpecificCall", body: `{"arg":"startVnc"}`,
		reply: `{"id":9,"status":"pending"}`}
	r := runCM(t, "vmmSpecificCall --instance web1 --arg startVnc", post,
		exchange{method: "GET", uri: "/v1/calls/9?wait=30s", reply: `{"id":9,"status":"failed","result":"no vnc"}`})
	if r.code != 1 || r.err != "tashi: vmmSpecificCall: startVnc on instance web1 failed: no vnc\n" {
		t.Errorf("failed call: exit %d, stderr %q", r.code, r.err)
	}
	f := &fakeCM{t: t, want: []exchange{post}}
	srv := httptest.NewServer(pendingCalls{f})
	defer srv.Close()
	start := time.Now()
	r = runAt(t, srv.Listener.Addr().String(), "token = tok-1\n",
		"vmmSpecificCall", "--instance", "web1", "--arg", "startVnc", "--timeout", "1")
	if r.code != 1 || !strings.Contains(r.err, "no agent answered startVnc on instance web1 within 1s") ||
		!strings.Contains(r.err, "call (id 9) is still pending") {
		t.Errorf("no answer: exit %d, stderr %q", r.code, r.err)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("waited %s for a 1s timeout", d)
	}
}

// pendingCalls checks the first request with f and answers every wait
// with a pending call, checking only that it is a wait for call 9.
type pendingCalls struct{ f *fakeCM }

func (p pendingCalls) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "GET" {
		if !strings.HasPrefix(r.URL.RequestURI(), "/v1/calls/9?wait=") {
			p.f.t.Errorf("unexpected %s %s", r.Method, r.URL.RequestURI())
		}
		w.Write([]byte(`{"id":9,"status":"pending"}`))
		return
	}
	p.f.ServeHTTP(w, r)
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := runAt(t, addr, "token = x\nclusterManagerTimeout = 0.2\n", "getHosts")
	want := "tashi: getHosts: cannot reach the cluster manager at http://" + addr + ": connection refused"
	if r.code != 1 || !strings.HasPrefix(r.err, want) || !strings.Contains(r.err, "make up") {
		t.Errorf("exit %d, stderr %q", r.code, r.err)
	}
}

func TestIdentity(t *testing.T) {
	r := runAt(t, "127.0.0.1:1", "", "getHosts")
	for _, want := range []string{"tashi: getHosts: no API token", "make up", "~/.tashi/Client.cfg",
		"export TASHI_TOKEN="} {
		if r.code != 1 || !strings.Contains(r.err, want) {
			t.Errorf("no token: exit %d, stderr %q lacks %q", r.code, r.err, want)
		}
	}
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("tok-1\n"), 0o600)
	f := &fakeCM{t: t, want: []exchange{{method: "GET", uri: "/v1/hosts", reply: "[]"}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	r = runAt(t, srv.Listener.Addr().String(), "tokenFile = "+tokFile+"\n", "getHosts")
	if r.code != 0 || f.n != 1 {
		t.Errorf("tokenFile: exit %d, %d requests, stderr %q", r.code, f.n, r.err)
	}
	f.n = 0
	r = runEnv(t, map[string]string{"TASHI_TOKEN": "tok-1"}, srv.Listener.Addr().String(), "", "getHosts")
	if r.code != 0 || f.n != 1 {
		t.Errorf("TASHI_TOKEN: exit %d, %d requests, stderr %q", r.code, f.n, r.err)
	}
	r = runAt(t, "127.0.0.1:1", "tokenFile = /nonexistent/token\n", "getHosts")
	if r.code != 1 || !strings.Contains(r.err, "[Client] tokenFile") {
		t.Errorf("missing token file: exit %d, stderr %q", r.code, r.err)
	}
}

func TestUsageErrorsMakeNoRequest(t *testing.T) {
	for _, line := range []string{
		"createVm --name a",
		"createVm --name a --disks x --cores two",
		"setQuota --user bob",
		"getSlots --show-id",
		"getHosts --show-nope",
		"getHosts extra",
		"frobnicate",
		"completion fish",
		"help nope",
	} {
		r := runCM(t, line)
		if r.code != 2 || !strings.HasPrefix(r.err, "tashi: ") || !strings.Contains(r.err, "(see tashi ") {
			t.Errorf("%q: exit %d, stderr %q", line, r.code, r.err)
		}
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		line []string
		code int
		out  string // in stdout (or stderr when code != 0)
	}{
		{nil, 2, "usage: tashi <verb>"},
		{[]string{"--help"}, 0, "admin verbs"},
		{[]string{"-h"}, 0, "--show-<col>"},
		{[]string{"help"}, 0, "getVmLayout"},
		{[]string{"help", "CREATEVM"}, 0, "usage: tashi createVm [--userId USERID] --name NAME"},
		{[]string{"createVm", "--help"}, 0, "more with --show-<col>: userId hostName"},
		{[]string{"getHosts", "-h"}, 0, "stats.load1"},
		{[]string{"--examples"}, 0, "tashi createMany --basename hadoop"},
		{[]string{"addNetwork", "--examples"}, 0, "examples of addNetwork:\n  tashi addNetwork"},
		{[]string{"completion", "zsh"}, 0, "bashcompinit"},
	}
	for _, tt := range tests {
		var out, errb strings.Builder
		a := &app{stdout: &out, stderr: &errb, verbs: builtinVerbs(), env: func(string) string { return "" }}
		code := a.main(t.Context(), tt.line)
		got := out.String()
		if code != 0 {
			got = errb.String()
		}
		if code != tt.code || !strings.Contains(got, tt.out) {
			t.Errorf("%q: exit %d, output:\n%s\nwant exit %d and %q", tt.line, code, got, tt.code, tt.out)
		}
	}
}
