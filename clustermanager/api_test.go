package clustermanager_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/clustermanager/cmtest"
)

func TestMain(m *testing.M) { cmtest.Main(m) }

var ctx = context.Background()

// recordCounts is a fingerprint of the whole record: if a request changed
// anything, one of these counts or sums moves.
func recordCounts(t *testing.T, c *cmtest.Cluster) string {
	t.Helper()
	var out string
	err := c.Store.Pool().QueryRow(ctx, `SELECT concat_ws(' ',
		(SELECT count(*) FROM instances), (SELECT coalesce(sum(version),0) FROM instances),
		(SELECT count(*) FROM hosts), (SELECT string_agg(state||notes, ',') FROM hosts),
		(SELECT count(*) FROM users), (SELECT coalesce(sum(max_instances+max_cores+max_memory),0) FROM users),
		(SELECT count(*) FROM networks), (SELECT count(*) FROM images), (SELECT count(*) FROM leases),
		(SELECT count(*) FROM events), (SELECT count(*) FROM instance_groups), (SELECT count(*) FROM reservations))`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func raw(t *testing.T, c *cmtest.Cluster, token, method, path, body string) (int, api.Error) {
	t.Helper()
	req, _ := http.NewRequest(method, c.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var e api.Error
	_ = jsonUnmarshal(data, &e)
	return resp.StatusCode, e
}

func setup(t *testing.T) (*cmtest.Cluster, *api.Client, *api.Client) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	if _, err := c.Admin.AddNetwork(ctx, api.Network{Name: "default", Kind: "bridge", CIDR: "10.5.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	nm := c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{})
	alice := c.User(t, "alice", api.RoleUser, api.AddUserRequest{})
	if _, err := alice.CreateVM(ctx, cmtest.Spec("taken")); err != nil {
		t.Fatal(err)
	}
	return c, alice, nm
}

func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	c, alice, nm := setup(t)
	tok := alice.Token
	big := fmt.Sprintf(`{"name":"x","cores":1,"memory":128,"disks":[{"uri":"%s"}]}`, strings.Repeat("a", 2<<20))
	tests := []struct {
		name, token, method, path, body string
		status                          int
		code                            api.Code
		field                           string
	}{
		{"malformed json", tok, "POST", "/v1/instances", `{"name":`, 400, api.CodeMalformed, ""},
		{"empty body", tok, "POST", "/v1/instances", ``, 400, api.CodeMalformed, ""},
		{"two values", tok, "POST", "/v1/instances", `{} {}`, 400, api.CodeMalformed, ""},
		{"huge body", tok, "POST", "/v1/instances", big, 400, api.CodeMalformed, ""},
		{"unknown field", tok, "POST", "/v1/instances", `{"name":"a","cpus":2}`, 400, api.CodeUnknownField, "cpus"},
		{"wrong type", tok, "POST", "/v1/instances", `{"name":"a","cores":"two"}`, 400, api.CodeInvalid, "cores"},
		{"negative cores", tok, "POST", "/v1/instances", `{"name":"a","cores":-1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}`, 400, api.CodeLimitExceeded, "cores"},
		{"huge cores", tok, "POST", "/v1/instances", `{"name":"a","cores":100000,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}`, 400, api.CodeLimitExceeded, "cores"},
		{"zero memory", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":0,"disks":[{"uri":"tiny.qcow2"}]}`, 400, api.CodeLimitExceeded, "memory"},
		{"huge memory", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":99999999,"disks":[{"uri":"tiny.qcow2"}]}`, 400, api.CodeLimitExceeded, "memory"},
		{"overflow memory", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":99999999999999999999,"disks":[{"uri":"tiny.qcow2"}]}`, 400, api.CodeInvalid, "memory"},
		{"bad name", tok, "POST", "/v1/instances", `{"name":"a b","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}`, 400, api.CodeInvalid, "name"},
		{"no disks", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128}`, 400, api.CodeInvalid, "disks"},
		{"path escape disk", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128,"disks":[{"uri":"../etc/passwd"}]}`, 400, api.CodeInvalid, "disks"},
		{"unknown image", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128,"disks":[{"uri":"nope.qcow2"}]}`, 404, api.CodeNotFound, "disks"},
		{"unknown network", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}],"nics":[{"network":"nonet"}]}`, 404, api.CodeNotFound, "nics"},
		{"address outside network", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}],"nics":[{"ip":"192.168.9.9"}]}`, 400, api.CodeInvalid, "nics"},
		{"bad mac", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}],"nics":[{"mac":"01:00:5e:00:00:01"}]}`, 400, api.CodeInvalid, "nics"},
		{"reserved hint", tok, "POST", "/v1/instances", `{"name":"a","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}],"hints":{"__resume_source":"x"}}`, 400, api.CodeInvalid, "hints"},
		{"unknown user", "", "POST", "/v1/instances", `{"name":"a","userId":999,"cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}`, 404, api.CodeNotFound, "userId"},
		{"other user as user", tok, "POST", "/v1/instances", `{"name":"a","userId":1,"cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}`, 403, api.CodeForbidden, "userId"},
		{"duplicate name", tok, "POST", "/v1/instances", `{"name":"taken","cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}`, 409, api.CodeDuplicate, "name"},
		{"count zero", tok, "POST", "/v1/groups", `{"basename":"g","count":0,"spec":{"cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}}`, 400, api.CodeInvalid, "count"},
		{"count huge", tok, "POST", "/v1/groups", `{"basename":"g","count":100000,"spec":{"cores":1,"memory":128,"disks":[{"uri":"tiny.qcow2"}]}}`, 400, api.CodeInvalid, "count"},
		{"illegal transition", tok, "POST", "/v1/instances/taken/unpause", ``, 409, api.CodeIllegalTransition, "state"},
		{"unknown action", tok, "POST", "/v1/instances/taken/explode", ``, 400, api.CodeInvalid, "action"},
		{"unknown instance", tok, "POST", "/v1/instances/ghost/destroy", ``, 404, api.CodeNotFound, "instance"},
		{"no token", "-", "POST", "/v1/instances", `{}`, 401, api.CodeUnauthenticated, "Authorization"},
		{"bad token", "tashi_bogus", "POST", "/v1/instances/taken/destroy", ``, 401, api.CodeUnauthenticated, "token"},
		{"user calls admin", tok, "POST", "/v1/hosts", `{"name":"h9"}`, 403, api.CodeForbidden, "Authorization"},
		{"nm calls client", nm.Token, "POST", "/v1/instances/taken/destroy", ``, 403, api.CodeForbidden, "Authorization"},
		{"user calls nm", tok, "POST", "/v1/nm/heartbeat", `{"hostId":1}`, 403, api.CodeForbidden, "Authorization"},
		{"bad host state", "", "POST", "/v1/hosts/1/state", `{"state":"Broken"}`, 400, api.CodeInvalid, "state"},
		{"bad network kind", "", "POST", "/v1/networks", `{"name":"n2","kind":"token-ring","cidr":"10.6.0.0/24"}`, 400, api.CodeInvalid, "kind"},
		{"bad cidr", "", "POST", "/v1/networks", `{"name":"n2","kind":"bridge","cidr":"10.6.0.0/99"}`, 400, api.CodeInvalid, "cidr"},
		{"bad role", "", "POST", "/v1/users", `{"name":"bob","role":"king"}`, 400, api.CodeInvalid, "role"},
		{"negative quota", "", "POST", "/v1/users/alice/quota", `{"maxCores":-3}`, 400, api.CodeInvalid, "maxCores"},
		{"migrate a pending vm", tok, "POST", "/v1/instances/taken/migrate", `{"host":"nowhere"}`, 409, api.CodeIllegalTransition, "state"},
		{"migrate without host", tok, "POST", "/v1/instances/taken/migrate", `{}`, 400, api.CodeInvalid, "host"},
		{"heartbeat unknown host", nm.Token, "POST", "/v1/nm/heartbeat", `{"hostId":77,"vms":[]}`, 404, api.CodeNotFound, "hostId"},
		{"no such route", tok, "GET", "/v1/nothing", ``, 404, api.CodeNotFound, "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			switch token {
			case "":
				token = c.Admin.Token
			case "-":
				token = ""
			}
			before := recordCounts(t, c)
			status, e := raw(t, c, token, tt.method, tt.path, tt.body)
			if status != tt.status || e.Code != tt.code || e.Field != tt.field {
				t.Errorf("got %d %s field=%q (%s); want %d %s field=%q", status, e.Code, e.Field, e.Message, tt.status, tt.code, tt.field)
			}
			if e.Message == "" {
				t.Errorf("error without a message")
			}
			if after := recordCounts(t, c); after != before {
				t.Errorf("record changed: %s -> %s", before, after)
			}
		})
	}
}

func TestQuotaHoldsUnder50ConcurrentClients(t *testing.T) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	bob := c.User(t, "bob", api.RoleUser, api.AddUserRequest{MaxInstances: 10, MaxCores: 12})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := cmtest.Spec(fmt.Sprintf("q%d", i))
			if i%5 == 0 {
				spec.Cores = 2
			}
			_, err := bob.CreateVM(ctx, spec)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case api.IsCode(err, api.CodeQuotaExceeded):
				refused++
			default:
				t.Errorf("create q%d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	var n, cores int
	if err := c.Store.Pool().QueryRow(ctx, `SELECT count(*), coalesce(sum(cores),0) FROM instances`).Scan(&n, &cores); err != nil {
		t.Fatal(err)
	}
	if n > 10 || cores > 12 || n != ok || ok+refused != 50 || ok == 0 {
		t.Fatalf("admitted %d (record: %d instances, %d cores), refused %d; quota is 10 instances, 12 cores", ok, n, cores, refused)
	}
}

func TestCreateManyIsAllOrNothing(t *testing.T) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	carol := c.User(t, "carol", api.RoleUser, api.AddUserRequest{MaxInstances: 4})
	spec := cmtest.Spec("")
	if _, err := carol.CreateMany(ctx, api.ManySpec{Basename: "web", Count: 5, Spec: spec}); !api.IsCode(err, api.CodeQuotaExceeded) {
		t.Fatalf("createMany 5 over a quota of 4: got %v, want quota_exceeded", err)
	}
	g, err := carol.CreateMany(ctx, api.ManySpec{Basename: "web", Count: 4, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range g.Instances {
		names = append(names, in.Name)
		if in.GroupID == nil || *in.GroupID != g.ID {
			t.Errorf("%s is not in group %d", in.Name, g.ID)
		}
	}
	if got := strings.Join(names, ","); got != "web-0,web-1,web-2,web-3" {
		t.Errorf("names %s", got)
	}
	if _, err := carol.CreateMany(ctx, api.ManySpec{Basename: "web", Count: 1, Spec: spec}); err == nil {
		t.Errorf("a second createMany web with a taken name was admitted")
	}
	if _, err := carol.ActMany(ctx, "web", api.EvDestroy); err != nil {
		t.Fatal(err)
	}
	if insts, _ := carol.Instances(ctx, true); len(insts) != 0 {
		t.Errorf("destroyMany left %d instances", len(insts))
	}
	if _, err := carol.ActMany(ctx, "web", api.EvDestroy); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("destroyMany of an unused basename: %v", err)
	}
}

func TestOwnersAndAdmins(t *testing.T) {
	c, alice, _ := setup(t)
	eve := c.User(t, "eve", api.RoleUser, api.AddUserRequest{})
	if _, err := eve.Act(ctx, "taken", api.EvDestroy); !api.IsCode(err, api.CodeForbidden) {
		t.Fatalf("eve destroyed alice's VM: %v", err)
	}
	if mine, _ := eve.Instances(ctx, true); len(mine) != 0 {
		t.Errorf("getMyInstances for eve shows %d", len(mine))
	}
	if mine, _ := alice.Instances(ctx, true); len(mine) != 1 {
		t.Errorf("getMyInstances for alice shows %d", len(mine))
	}
	if _, err := c.Admin.Act(ctx, "taken", api.EvDestroy); err != nil {
		t.Fatalf("admin destroy: %v", err)
	}
}

func TestIdempotencyKeyDoesItOnce(t *testing.T) {
	c := cmtest.New(t)
	c.Image(t, "tiny.qcow2")
	var a, b api.Instance
	if err := c.Admin.DoKey(ctx, "POST", "/v1/instances", "k1", cmtest.Spec("once"), &a); err != nil {
		t.Fatal(err)
	}
	if err := c.Admin.DoKey(ctx, "POST", "/v1/instances", "k1", cmtest.Spec("once"), &b); err != nil {
		t.Fatalf("retry with the same key: %v", err)
	}
	if a.ID != b.ID {
		t.Errorf("retry created a second instance: %d, %d", a.ID, b.ID)
	}
	if all, _ := c.Admin.Instances(ctx, false); len(all) != 1 {
		t.Errorf("%d instances after a retried create", len(all))
	}
}

func TestVersionMismatchAndLiveness(t *testing.T) {
	c := cmtest.New(t)
	nm := c.User(t, "nm", api.RoleNodeManager, api.AddUserRequest{})
	if _, err := c.Admin.AddHost(ctx, api.AddHostRequest{Name: "h1"}); err != nil {
		t.Fatal(err)
	}
	r, err := nm.Register(ctx, api.RegisterRequest{Name: "h1", Version: "old", Cores: 4, Memory: 4096})
	if err != nil || r.State != api.HostVersionMismatch {
		t.Fatalf("register with another version: %+v %v", r, err)
	}
	r, err = nm.Register(ctx, api.RegisterRequest{Name: "h1", Version: "dev", Cores: 4, Memory: 4096})
	if err != nil || r.State != api.HostNormal {
		t.Fatalf("register with the CM's version: %+v %v", r, err)
	}
	if _, err := nm.Register(ctx, api.RegisterRequest{Name: "nope", Version: "dev", Cores: 4, Memory: 4096}); !api.IsCode(err, api.CodeNotFound) {
		t.Fatalf("register of an unknown host: %v", err)
	}
	hosts, _ := c.Admin.Hosts(ctx)
	if !hosts[0].Up || hosts[0].Cores != 4 {
		t.Fatalf("host after register: %+v", hosts[0])
	}
	c.Store.SetClock(func() time.Time { return time.Now().Add(time.Minute) })
	hosts, _ = c.Admin.Hosts(ctx)
	if hosts[0].Up {
		t.Fatalf("host still up a minute after its last heartbeat")
	}
}
