package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tashi-go/tashi/api"
)

func i64(n int64) *int64 { return &n }

// render selects columns with ops and prints rows.
func render(t *testing.T, rows any, ops ...colOp) string {
	t.Helper()
	cols, err := selectColumns(reflect.TypeOf(rows).Elem(), ops)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := writeTable(&b, rows, cols); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkTable(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestInstanceTable(t *testing.T) {
	rows := []api.Instance{
		{ID: 12, Name: "hadoop-10", UserName: "alice", State: api.Running, HostID: i64(3),
			Cores: 2, Memory: 2048, Disks: []api.Disk{{URI: "hadoop.qcow2", Persistent: true}, {URI: "s"}}},
		{ID: 2, Name: "web1", UserName: "bob", State: api.Pending, Cores: 1, Memory: 128,
			Disks: []api.Disk{{URI: "tiny.qcow2"}}, Error: "no host\nfits"},
	}
	checkTable(t, render(t, rows), `
id hostId name      user  state   disk              memory cores
----------------------------------------------------------------
2  None   web1      bob   Pending tiny.qcow2        128    1
12 3      hadoop-10 alice Running hadoop.qcow2:True 2048   2
`)
	checkTable(t, render(t, rows, colOp{false, "all"}, colOp{true, "NAME"}, colOp{true, "error"},
		colOp{true, "disks"}), `
name      disks               error
-------------------------------------------
hadoop-10 hadoop.qcow2:True,s
web1      tiny.qcow2          no host\nfits
`)
}

func TestHostTable(t *testing.T) {
	hb := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	rows := []api.Host{{ID: 1, Name: "node1", State: api.HostNormal, Up: true, Cores: 8, Memory: 16384,
		Version: "v1", Reserved: []int64{4, 5}, LastHeartbeat: &hb, Stats: api.HostStats{Load1: 0.5}}}
	checkTable(t, render(t, rows, colOp{false, "notes"}, colOp{true, "stats.load1"}, colOp{true, "reserved"},
		colOp{true, "lastheartbeat"}), `
id name  state  up   cores memory usedCores usedMemory version reserved lastHeartbeat        stats.load1
--------------------------------------------------------------------------------------------------------
1  node1 Normal True 8     16384  0         0          v1      4,5      2024-05-01T12:00:00Z 0.5
`)
}

func TestOtherTables(t *testing.T) {
	checkTable(t, render(t, []api.Image{{ID: 1, Name: "tiny.qcow2", Size: 1868310773},
		{ID: 2, Name: "k", Size: 512}, {ID: 3, Name: "m", Size: 3 << 20}}), `
id imageName  imageSize
-----------------------
1  tiny.qcow2 1.74G
2  k          512B
3  m          3.00M
`)
	checkTable(t, render(t, []api.LayoutHost{{ID: 1, Name: "n1", State: api.HostDrained,
		Instances: []string{"a", "b"}, UsedMemory: 256, Memory: 1024, UsedCores: 2, Cores: 4}}), `
id name state   instances usedMemory memory usedCores cores
-----------------------------------------------------------
1  n1   Drained a,b       256        1024   2         4
`)
	checkTable(t, render(t, []api.Network{{ID: 1, Name: "default", Kind: "bridge", CIDR: "10.0.0.0/24",
		Default: true}}), `
id name    kind   segmentId cidr        default
-----------------------------------------------
1  default bridge 0         10.0.0.0/24 True
`)
	checkTable(t, render(t, []api.User{{ID: 1, Name: "admin", Role: api.RoleAdmin}}), `
id name  role  maxInstances maxCores maxMemory
----------------------------------------------
1  admin admin 0            0        0
`)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	checkTable(t, render(t, []api.LogEntry{{ID: 7, At: at, Actor: "agent-1", Kind: "activate",
		Detail: map[string]any{"host": "n1", "try": 2.0}}}), `
id at                   actor   kind     detail
------------------------------------------------------
7  2024-05-01T12:00:00Z agent-1 activate host=n1,try=2
`)
}

func TestSortRows(t *testing.T) {
	rows := [][]string{{"b"}, {"10"}, {"None"}, {"9"}, {"a"}, {"1.5"}}
	sortRows(rows)
	var got []string
	for _, r := range rows {
		got = append(got, r[0])
	}
	if strings.Join(got, " ") != "1.5 9 10 None a b" {
		t.Errorf("sorted: %v", got)
	}
}

func TestColumnsFromJSONFields(t *testing.T) {
	cols := columnNames(columnsOf(rowsOf[api.Instance]()))
	want := "id hostId name user state disk memory cores userId hostName targetHostId disks nics hints groupId " +
		"version vmId error createdAt updatedAt placement failedHosts"
	if cols != want {
		t.Errorf("instance columns:\n %s\nwant\n %s", cols, want)
	}
	_, err := selectColumns(rowsOf[api.User](), []colOp{{true, "token"}, {true, "passwd"}})
	if err == nil || !strings.Contains(err.Error(), `unknown column "passwd"; columns: id name role`) {
		t.Errorf("unknown column error = %v", err)
	}
	if got := render(t, []api.User{{ID: 1}}, colOp{false, "all"}); got != "" {
		t.Errorf("no columns printed %q", got)
	}
}
