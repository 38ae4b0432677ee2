package moosefstest

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mfscliSCS is `mfscli -H MASTER -SCS` from MooseFS 3.0.117 after chunkserver
// A (10.213.77.11) was killed.
const mfscliSCS = "chunk servers:\t10.213.77.12\t9422\t3\tB\t3.0.117\t0\tmaintenance_off\t8\t16347627520\t97793294336\t-\t0\t0\t0\n" +
	"chunk servers:\t10.213.77.13\t9422\t2\tC\t3.0.117\t0\tmaintenance_off\t3\t16339628032\t97793294336\t-\t0\t0\t0\n" +
	"\n\nDisconnected chunk servers:\t10.213.77.11\t9422\t1\tmaintenance_temp_on\n"

func TestParseConnected(t *testing.T) {
	want := map[string]bool{"10.213.77.12": true, "10.213.77.13": true}
	if got := parseConnected(mfscliSCS); !reflect.DeepEqual(got, want) {
		t.Errorf("parseConnected = %v, want %v", got, want)
	}
}

func TestLogShows(t *testing.T) {
	log := filepath.Join(t.TempDir(), "master.log")
	text := "mfsmaster[1]: csdb: server not found (10.213.7.11:9422,0), add it to database\n" +
		"mfsmaster[1]: chunkserver register end (packet version: 6) - ip: 10.213.7.11 / port: 9422\n" +
		"mfsmaster[1]: chunkserver register end (packet version: 6) - ip: 10.213.7.12 / port: 9422\n" +
		"mfsmaster[1]: chunkserver disconnected - ip: 10.213.7.254 / port: 0, usedspace: 0 (0.00 GiB)\n"
	if err := os.WriteFile(log, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Cluster{master: &daemon{log: log}}
	a, b, cc := Chunkserver{Addr: "10.213.7.11"}, Chunkserver{Addr: "10.213.7.12"}, Chunkserver{Addr: "10.213.7.13"}
	if !c.logShows("register end", a, b) {
		t.Error("A and B registered: logShows = false")
	}
	if c.logShows("register end", a, b, cc) {
		t.Error("C not registered: logShows = true")
	}
	if c.logShows("chunkserver disconnected", a) {
		t.Error("A not disconnected: logShows = true")
	}
}

func TestRouteDestinations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "route")
	text := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"mfst1\t0007D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := routeDestinations(path)
	want := []netip.Addr{netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("10.213.7.0")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("routeDestinations = %v, %v; want %v", got, err, want)
	}
	used := map[byte]bool{}
	for _, a := range got {
		markUsed(used, a)
	}
	if !reflect.DeepEqual(used, map[byte]bool{7: true}) {
		t.Errorf("used subnets = %v, want {7}", used)
	}
}

func TestSetupCommands(t *testing.T) {
	n := network{ns: "mfst-abc123", link: "mfstabc123", subnet: 9}
	var lines []string
	for _, c := range n.setupCommands([]int{1, 11}) {
		lines = append(lines, strings.Join(c, " "))
	}
	want := []string{
		"link add mfstabc123 type veth peer name v0 netns mfst-abc123",
		"addr add 10.213.9.254/24 dev mfstabc123",
		"link set mfstabc123 up",
		"-n mfst-abc123 link set lo up",
		"-n mfst-abc123 link add br0 type bridge",
		"-n mfst-abc123 link set v0 master br0",
		"-n mfst-abc123 addr add 10.213.9.1/24 dev br0",
		"-n mfst-abc123 addr add 10.213.9.11/24 dev br0",
		"-n mfst-abc123 link set br0 up",
		"-n mfst-abc123 link set v0 up",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("setupCommands:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfigs(t *testing.T) {
	cs := chunkserverConfig("/d/csB", "/d/csB/mfshdd.cfg", "10.213.9.12", "B", "10.213.9.1")
	for _, want := range []string{"LABELS = B\n", "BIND_HOST = 10.213.9.12\n", "MASTER_HOST = 10.213.9.1\n",
		"CSSERV_LISTEN_HOST = 10.213.9.12\n", "HDD_CONF_FILENAME = /d/csB/mfshdd.cfg\n"} {
		if !strings.Contains(cs, want) {
			t.Errorf("chunkserver config lacks %q:\n%s", want, cs)
		}
	}
	m := masterConfig("/d/master", "10.213.9.1")
	for _, want := range []string{"DATA_PATH = /d/master\n", "MATOCL_LISTEN_HOST = 10.213.9.1\n", "MATOCS_LISTEN_PORT = 9420\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("master config lacks %q:\n%s", want, m)
		}
	}
	if got := exportsConfig("10.213.9.0"); got != "10.213.9.0/24 / rw,alldirs,admin,maproot=0\n" {
		t.Errorf("exports = %q", got)
	}
}

func TestPlaced(t *testing.T) {
	b, c := "10.213.9.12", "10.213.9.13"
	tests := []struct {
		copies [][]string
		chunks int
		want   []string
		ok     bool
	}{
		{[][]string{{b, c}, {b, c}}, 2, []string{b, c}, true},
		{[][]string{{b, c}, {b}}, 2, []string{b, c}, false},
		{[][]string{{b, c}}, 2, []string{b, c}, false},
		{[][]string{{b}, {c}}, 2, nil, true},
		{[][]string{{b}, {}}, 2, nil, false},
		{nil, 0, []string{b}, true},
	}
	for _, tt := range tests {
		if got := placed(tt.copies, tt.chunks, tt.want); got != tt.ok {
			t.Errorf("placed(%v, %d, %v) = %v", tt.copies, tt.chunks, tt.want, got)
		}
	}
}
