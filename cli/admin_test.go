package cli

import (
	"strings"
	"testing"
)

func TestAdminVerbsEndToEnd(t *testing.T) {
	msg := func(method, uri, body string) []exchange {
		return []exchange{{method: method, uri: uri, body: body, reply: `{"message":"done."}`}}
	}
	tests := []struct {
		line string
		xs   []exchange
		want string // stdout, exactly (leading newline dropped)
	}{
		{line: "addHost --host node7",
			xs: []exchange{{method: "POST", uri: "/v1/hosts", body: `{"name":"node7"}`,
				reply: `{"id":7,"name":"node7","state":"Normal","up":false,"cores":0,"memory":0,"version":"new","notes":""}`}},
			want: `
id name  state  up    cores memory usedCores usedMemory version notes
---------------------------------------------------------------------
7  node7 Normal False 0     0      0         0          new
`},
		{line: "addHost --host node8 --cores 4 --memory 2048",
			xs: []exchange{{method: "POST", uri: "/v1/hosts", body: `{"name":"node8","cores":4,"memory":2048}`,
				reply: `{"id":8,"name":"node8"}`}},
			want: "id name  state up    cores memory usedCores usedMemory version notes\n" +
				"--------------------------------------------------------------------\n" +
				"8  node8       False 0     0      0         0\n"},
		{line: "delHost --host node7", xs: msg("DELETE", "/v1/hosts/node7", ""), want: "done.\n"},
		{line: "setHostState --host node7 --state drained", want: "done.\n",
			xs: msg("POST", "/v1/hosts/node7/state", `{"state":"Drained"}`)},
		{line: "setHostNotes --host node7 --notes=disk-replaced", want: "done.\n",
			xs: msg("POST", "/v1/hosts/node7/notes", `{"notes":"disk-replaced"}`)},
		{line: "addReservation --host node7 --user alice", want: "done.\n",
			xs: msg("POST", "/v1/hosts/node7/reservations", `{"user":"alice"}`)},
		{line: "delReservation --host node7 --user alice", want: "done.\n",
			xs: msg("DELETE", "/v1/hosts/node7/reservations/alice", "")},
		{line: "getReservation --host node7", want: "Host node7 reserved for users alice.\n",
			xs: []exchange{{method: "GET", uri: "/v1/hosts/node7/reservations",
				reply: `{"message":"Host node7 reserved for users alice."}`}}},
		{line: "delUser --user bob", xs: msg("DELETE", "/v1/users/bob", ""), want: "done.\n"},
		{line: "setQuota --user bob --maxInstances 0 --maxMemory 2048",
			xs: []exchange{{method: "POST", uri: "/v1/users/bob/quota", body: `{"maxInstances":0,"maxMemory":2048}`,
				reply: `{"id":2,"name":"bob","role":"user","maxInstances":0,"maxCores":8,"maxMemory":2048}`}},
			want: "id name role maxInstances maxCores maxMemory\n" +
				"--------------------------------------------\n" +
				"2  bob  user 0            8        2048\n"},
		{line: "addNetwork --name lab --kind VXLAN --segment 42 --cidr 10.42.0.0/24 --gateway 10.42.0.1 " +
			"--domain lab.example --mtu 1450 --default",
			xs: []exchange{{method: "POST", uri: "/v1/networks",
				body: `{"id":0,"name":"lab","kind":"vxlan","segmentId":42,"cidr":"10.42.0.0/24",
				"gateway":"10.42.0.1","domain":"lab.example","mtu":1450,"default":true}`,
				reply: `{"id":2,"name":"lab","kind":"vxlan","segmentId":42,"cidr":"10.42.0.0/24","default":true}`}},
			want: "id name kind  segmentId cidr         default\n" +
				"--------------------------------------------\n" +
				"2  lab  vxlan 42        10.42.0.0/24 True\n"},
		{line: "delNetwork --network lab", xs: msg("DELETE", "/v1/networks/lab", ""), want: "done.\n"},
		{line: "addImage --name tiny.qcow2 --size 1024",
			xs: []exchange{{method: "POST", uri: "/v1/images", body: `{"name":"tiny.qcow2","size":1024}`,
				reply: `{"id":3,"imageName":"tiny.qcow2","imageSize":1024}`}},
			want: "id imageName  imageSize\n-----------------------\n3  tiny.qcow2 1.00K\n"},
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

func TestAddUserPrintsTokenOnce(t *testing.T) {
	r := runCM(t, "addUser --name bob --role ADMIN --maxCores 4",
		exchange{method: "POST", uri: "/v1/users", body: `{"name":"bob","role":"admin","maxCores":4}`,
			reply: `{"id":2,"name":"bob","role":"admin","maxCores":4,"token":"s3cret-token"}`})
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	table, notice, _ := strings.Cut(r.out, "\n\n")
	if strings.Contains(table, "s3cret") || !strings.HasPrefix(table, "id name role") {
		t.Errorf("table shows the token or is missing:\n%s", table)
	}
	for _, want := range []string{"Token for bob (shown only this once", "    s3cret-token\n",
		"token = s3cret-token", "export TASHI_TOKEN=s3cret-token"} {
		if !strings.Contains(notice, want) {
			t.Errorf("notice lacks %q:\n%s", want, notice)
		}
	}
	r = runCM(t, "addUser --name bob --json", exchange{method: "POST", uri: "/v1/users",
		body: `{"name":"bob","role":"user"}`, reply: `{"id":2,"name":"bob","role":"user","token":"t"}`})
	if !strings.Contains(r.out, `"token": "t"`) || strings.Contains(r.out, "Token for") {
		t.Errorf("--json output:\n%s", r.out)
	}
}
