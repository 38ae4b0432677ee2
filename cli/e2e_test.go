package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// These tests run whole command lines against a fake cluster manager that
// checks each request's method, path and body and answers canned JSON.

// exchange is one expected request and its canned answer.
type exchange struct {
	method, uri string // uri is path?query
	body        string // expected JSON body; "" means none
	status      int    // 0 means 200
	reply       string
}

// fakeCM serves the exchanges in order.
type fakeCM struct {
	t    *testing.T
	mu   sync.Mutex
	want []exchange
	n    int
}

func (f *fakeCM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n >= len(f.want) {
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.RequestURI())
		http.Error(w, `{"code":"internal","message":"unexpected"}`, 500)
		return
	}
	x := f.want[f.n]
	f.n++
	f.check(r, x)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(max(x.status, 200))
	io.WriteString(w, x.reply)
}

func (f *fakeCM) check(r *http.Request, x exchange) {
	t := f.t
	if r.Method != x.method || r.URL.RequestURI() != x.uri {
		t.Errorf("request %s %s; want %s %s", r.Method, r.URL.RequestURI(), x.method, x.uri)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer tok-1" {
		t.Errorf("Authorization = %q", got)
	}
	if r.Method != http.MethodGet && r.Header.Get("Idempotency-Key") == "" {
		t.Errorf("%s %s has no Idempotency-Key", r.Method, x.uri)
	}
	body, _ := io.ReadAll(r.Body)
	if !jsonEqual(body, x.body) {
		t.Errorf("%s %s body:\n %s\nwant\n %s", r.Method, x.uri, body, x.body)
	}
}

func jsonEqual(got []byte, want string) bool {
	if want == "" || len(got) == 0 {
		return want == "" && len(got) == 0
	}
	var g, w any
	return json.Unmarshal(got, &g) == nil && json.Unmarshal([]byte(want), &w) == nil && reflect.DeepEqual(g, w)
}

// result is what one run printed.
type result struct {
	out, err string
	code     int
}

// runAt runs the command line with a config file naming addr and the
// given [Client] lines.
func runAt(t *testing.T, addr, client string, line ...string) result {
	t.Helper()
	return runEnv(t, nil, addr, client, line...)
}

// runEnv is runAt with environment variables (HOME is a temporary dir).
func runEnv(t *testing.T, env map[string]string, addr, client string, line ...string) result {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(addr)
	cfg := "[Client]\nclusterManagerHost = " + host + "\nclusterManagerPort = " + port + "\n" + client
	path := filepath.Join(dir, "test.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, verbs: builtinVerbs(), dirs: []string{},
		environ: func() []string { return nil },
		env: func(k string) string {
			if k == "HOME" {
				return dir
			}
			return env[k]
		}}
	args := append(line, "--config", path)
	code := a.main(context.Background(), args)
	return result{out.String(), errb.String(), code}
}

// runCM runs line against a fake CM expecting xs.
func runCM(t *testing.T, line string, xs ...exchange) result {
	t.Helper()
	f := &fakeCM{t: t, want: xs}
	srv := httptest.NewServer(f)
	defer srv.Close()
	r := runAt(t, srv.Listener.Addr().String(), "token = tok-1\n", strings.Fields(line)...)
	if f.n < len(xs) {
		t.Errorf("%q made %d of %d expected requests", line, f.n, len(xs))
	}
	return r
}

const (
	instWeb1 = `{"id":5,"name":"web1","userId":1,"user":"alice","state":"Pending","hostId":null,
		"cores":2,"memory":256,"disks":[{"uri":"tiny.qcow2","persistent":true}],"nics":[]}`
	instH0 = `{"id":7,"name":"h-0","userId":1,"user":"alice","state":"Running","hostId":3,
		"cores":1,"memory":128,"disks":[{"uri":"a.qcow2"}],"nics":[]}`
	instH1 = `{"id":8,"name":"h-1","userId":1,"user":"alice","state":"Pending","hostId":null,
		"cores":1,"memory":128,"disks":[{"uri":"a.qcow2"}],"nics":[]}`
)

func TestVerbsEndToEnd(t *testing.T) {
	tests := []struct {
		line string
		xs   []exchange
		want string // stdout, exactly (leading newline dropped)
	}{
		{line: "createVm --name web1 --userId 7 --cores 2 --memory 256 --disks tiny.qcow2:true " +
			"--nics lab::52:54:00:00:00:01,:10.0.0.9 --hints targetHost=h1,densePack=no",
			xs: []exchange{{method: "POST", uri: "/v1/instances", reply: instWeb1,
				body: `{"name":"web1","userId":7,"cores":2,"memory":256,
				"disks":[{"uri":"tiny.qcow2","persistent":true}],
				"nics":[{"network":"lab","mac":"52:54:00:00:00:01"},{"ip":"10.0.0.9"}],
				"hints":{"targetHost":"h1","densePack":"no"}}`}},
			want: `
id hostId name user  state   disk            memory cores
---------------------------------------------------------
5  None   web1 alice Pending tiny.qcow2:True 256    2
`},
		{line: "CREATEMANY --basename h --count 2 --disks a.qcow2",
			xs: []exchange{{method: "POST", uri: "/v1/groups",
				body:  `{"basename":"h","count":2,"spec":{"name":"","cores":1,"memory":128,"disks":[{"uri":"a.qcow2"}]}}`,
				reply: `{"id":1,"basename":"h","instances":[` + instH1 + `,` + instH0 + `]}`}},
			want: `
id hostId name user  state   disk    memory cores
-------------------------------------------------
7  3      h-0  alice Running a.qcow2 128    1
8  None   h-1  alice Pending a.qcow2 128    1
`},
		{line: "shutdownVm --instance web1", want: "web1 is shutting down.\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/web1/shutdown", reply: `{"message":"web1 is shutting down."}`}}},
		{line: "destroyvm --instance 5", want: "ok\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/5/destroy", reply: `{"message":"ok"}`}}},
		{line: "suspendVm --instance web1", want: "web1 is suspending.\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/web1/suspend", reply: `{"message":"web1 is suspending."}`}}},
		{line: "resumeVm --instance web1", want: "web1 is resuming.\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/web1/resume", reply: `{"message":"web1 is resuming."}`}}},
		{line: "pauseVm --instance web1", want: "ok\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/web1/pause", reply: `{"message":"ok"}`}}},
		{line: "unpauseVm --instance web1", want: "ok\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/web1/unpause", reply: `{"message":"ok"}`}}},
		{line: "migrateVm --instance web1 --dst node4", want: "web1 is migrating to node4.\n",
			xs: []exchange{{method: "POST", uri: "/v1/instances/web1/migrate", body: `{"host":"node4"}`,
				reply: `{"message":"web1 is migrating to node4."}`}}},
		{line: "vmmSpecificCall --instance web1 --arg startVnc", want: "VNC on :5901\n",
			xs: []exchange{
				{method: "POST", uri: "/v1/instances/web1/vmmSpecificCall", body: `{"arg":"startVnc"}`,
					reply: `{"id":9,"instanceId":5,"arg":"startVnc","status":"pending"}`},
				{method: "GET", uri: "/v1/calls/9?wait=30s",
					reply: `{"id":9,"instanceId":5,"arg":"startVnc","status":"done","result":"VNC on :5901"}`}}},
		{line: "shutdownMany --basename h", want: "2 instances are shutting down.\n",
			xs: []exchange{{method: "POST", uri: "/v1/groups/h/shutdown", reply: `{"message":"2 instances are shutting down."}`}}},
		{line: "destroyMany --basename h", want: "ok\n",
			xs: []exchange{{method: "POST", uri: "/v1/groups/h/destroy", reply: `{"message":"ok"}`}}},
		{line: "getInstances --hide-disk --hide-user",
			xs: []exchange{{method: "GET", uri: "/v1/instances?mine=false", reply: `[` + instH1 + `,` + instWeb1 + `]`}},
			want: `
id hostId name state   memory cores
-----------------------------------
5  None   web1 Pending 256    2
8  None   h-1  Pending 128    1
`},
		{line: "getMyInstances --hide-all --show-name --show-hostId",
			xs:   []exchange{{method: "GET", uri: "/v1/instances?mine=true", reply: `[` + instH0 + `]`}},
			want: "hostId name\n-----------\n3      h-0\n"},
		{line: "getVmLayout",
			xs: []exchange{{method: "GET", uri: "/v1/layout", reply: `[{"id":3,"name":"n3","state":"Normal",
				"up":true,"instances":["h-0","web1"],"usedMemory":384,"memory":4096,"usedCores":3,"cores":8}]`}},
			want: `
id name state  instances usedMemory memory usedCores cores
----------------------------------------------------------
3  n3   Normal h-0,web1  384        4096   3         8
`},
		{line: "getHosts --show-stats.accel",
			xs: []exchange{{method: "GET", uri: "/v1/hosts", reply: `[{"id":3,"name":"n3","state":"Drained",
				"up":false,"cores":8,"memory":4096,"version":"v1","notes":"","reserved":[],
				"stats":{"accel":"kvm"},"usedCores":0,"usedMemory":0}]`}},
			want: `
id name state   up    cores memory usedCores usedMemory version notes stats.accel
---------------------------------------------------------------------------------
3  n3   Drained False 8     4096   0         0          v1            kvm
`},
		{line: "getNetworks",
			xs: []exchange{{method: "GET", uri: "/v1/networks", reply: `[{"id":1,"name":"default",
				"kind":"bridge","segmentId":0,"cidr":"10.0.0.0/24","default":true}]`}},
			want: "id name    kind   segmentId cidr        default\n" +
				"-----------------------------------------------\n" +
				"1  default bridge 0         10.0.0.0/24 True\n"},
		{line: "getUsers",
			xs: []exchange{{method: "GET", uri: "/v1/users", reply: `[{"id":2,"name":"bob","role":"user",
				"maxInstances":4,"maxCores":8,"maxMemory":0},{"id":1,"name":"admin","role":"admin"}]`}},
			want: `
id name  role  maxInstances maxCores maxMemory
----------------------------------------------
1  admin admin 0            0        0
2  bob   user  4            8        0
`},
		{line: "getImages",
			xs:   []exchange{{method: "GET", uri: "/v1/images", reply: `[{"id":1,"imageName":"tiny.qcow2","imageSize":1868310773}]`}},
			want: "id imageName  imageSize\n-----------------------\n1  tiny.qcow2 1.74G\n"},
		{line: "getSlots --cores 2 --memory 1024",
			xs:   []exchange{{method: "GET", uri: "/v1/slots?cores=2&memory=1024", reply: `{"cores":2,"memory":1024,"slots":1}`}},
			want: "1 available slot for instances with 2 cores and 1024 MB of memory.\n"},
		{line: "getSlots",
			xs:   []exchange{{method: "GET", uri: "/v1/slots?cores=1&memory=128", reply: `{"cores":1,"memory":128,"slots":6}`}},
			want: "6 available slots for instances with 1 core and 128 MB of memory.\n"},
		{line: "getEvents --instance web1",
			xs: []exchange{{method: "GET", uri: "/v1/instances/web1/events", reply: `[{"id":2,
				"at":"2024-05-01T12:00:01Z","actor":"agent","kind":"activate","detail":{"host":"n3"}},
				{"id":1,"at":"2024-05-01T12:00:00Z","actor":"alice","kind":"create"}]`}},
			want: `
id at                   actor kind     detail
----------------------------------------------
1  2024-05-01T12:00:00Z alice create
2  2024-05-01T12:00:01Z agent activate host=n3
`},
	}
	for _, tt := range tests {
		t.Run(strings.Fields(tt.line)[0], func(t *testing.T) {
			r := runCM(t, tt.line, tt.xs...)
			if r.code != 0 || r.out != strings.TrimPrefix(tt.want, "\n") {
				t.Errorf("%q: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", tt.line, r.code, r.err, r.out, tt.want)
			}
		})
	}
}
