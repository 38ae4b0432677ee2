package webhdfs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeReplica is one DataNode holding a block.
type fakeReplica struct{ host, ip string }

type fakeBlock struct {
	length   int64
	replicas []fakeReplica
}

// fakeNameNode answers WebHDFS block-location requests the way an HDFS
// NameNode does (WebHDFS.md, JsonUtil), for files made of blocks.
type fakeNameNode struct {
	files map[string][]fakeBlock
	// legacy: GETFILEBLOCKLOCATIONS is an unknown op (Hadoop < 3.2).
	legacy bool
	// bareRefusal: refuse GETFILEBLOCKLOCATIONS with an empty 400 (old HttpFS).
	bareRefusal bool
	// override, when set, answers every request with this status and body.
	override *fakeAnswer

	mu       sync.Mutex
	requests []string // "OP PATH offset=N length=N user=U"
}

type fakeAnswer struct {
	status int
	body   string
}

func startFakeNameNode(t *testing.T, nn *fakeNameNode) (*httptest.Server, *Client) {
	t.Helper()
	srv := httptest.NewServer(nn)
	t.Cleanup(srv.Close)
	c, err := New(Options{URL: srv.URL, User: "tashi"})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func (nn *fakeNameNode) log() []string {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	return append([]string(nil), nn.requests...)
}

func (nn *fakeNameNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	op := strings.ToUpper(q.Get("op"))
	file := strings.TrimPrefix(r.URL.Path, "/webhdfs/v1")
	nn.mu.Lock()
	nn.requests = append(nn.requests, fmt.Sprintf("%s %s offset=%s length=%s user=%s",
		op, file, q.Get("offset"), q.Get("length"), q.Get("user.name")))
	nn.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if nn.override != nil {
		w.WriteHeader(nn.override.status)
		fmt.Fprint(w, nn.override.body)
		return
	}
	if op == OpGetFileBlockLocations && nn.bareRefusal {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if op == OpGetFileBlockLocations && nn.legacy || op != OpGetFileBlockLocations && op != OpGetBlockLocations {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"RemoteException":{"exception":"IllegalArgumentException",`+
			`"javaClassName":"java.lang.IllegalArgumentException","message":"Invalid value for webhdfs parameter `+
			`\"op\": No enum constant org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.%s"}}`, op)
		return
	}
	blocks, ok := nn.files[file]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"RemoteException":{"exception":"FileNotFoundException",`+
			`"javaClassName":"java.io.FileNotFoundException","message":"File does not exist: %s"}}`, file)
		return
	}
	offset, _ := strconv.ParseInt(q.Get("offset"), 10, 64)
	length := int64(1<<63 - 1)
	if l := q.Get("length"); l != "" {
		length, _ = strconv.ParseInt(l, 10, 64)
	}
	sel := hdfsSelect(blocks, offset, length)
	var body any
	if op == OpGetFileBlockLocations {
		body = map[string]any{"BlockLocations": map[string]any{"BlockLocation": toBlockLocations(sel)}}
	} else {
		body = map[string]any{"LocatedBlocks": toLocatedBlocks(blocks, sel)}
	}
	json.NewEncoder(w).Encode(body)
}

// selected is a block chosen for an answer, with its start offset.
type selected struct {
	offset int64
	fakeBlock
}

// hdfsSelect mimics BlockManager.createLocatedBlockList: the block holding
// offset and those after it while they start before offset+length (at least
// one block when offset is inside the file, even for length 0).
func hdfsSelect(blocks []fakeBlock, offset, length int64) []selected {
	var out []selected
	var pos int64
	end := offset + length
	if end < offset { // overflow: to the end
		end = 1<<63 - 1
	}
	for _, b := range blocks {
		start := pos
		pos += b.length
		if pos <= offset {
			continue
		}
		if len(out) > 0 && start >= end {
			break
		}
		out = append(out, selected{start, b})
	}
	return out
}

func toBlockLocations(sel []selected) []any {
	out := []any{}
	for _, s := range sel {
		hosts, names, topo, types := []string{}, []string{}, []string{}, []string{}
		for _, r := range s.replicas {
			hosts = append(hosts, r.host)
			names = append(names, r.ip+":9866")
			topo = append(topo, "/default-rack/"+r.ip+":9866")
			types = append(types, "DISK")
		}
		out = append(out, map[string]any{"cachedHosts": []string{}, "corrupt": false, "hosts": hosts,
			"length": s.length, "names": names, "offset": s.offset, "storageTypes": types, "topologyPaths": topo})
	}
	return out
}

func toLocatedBlocks(all []fakeBlock, sel []selected) map[string]any {
	var fileLength int64
	for _, b := range all {
		fileLength += b.length
	}
	lbs := []any{}
	for i, s := range sel {
		locs := []any{}
		for _, r := range s.replicas {
			locs = append(locs, map[string]any{"adminState": "NORMAL", "blockPoolUsed": 0, "cacheCapacity": 0,
				"cacheUsed": 0, "capacity": 1 << 40, "dfsUsed": 0, "hostName": r.host, "infoPort": 9864,
				"infoSecurePort": 0, "ipAddr": r.ip, "ipcPort": 9867, "lastUpdate": 0, "lastUpdateMonotonic": 0,
				"name": r.ip + ":9866", "networkLocation": "/default-rack", "remaining": 1 << 40,
				"storageID": "DS-1", "xceiverCount": 1, "xferPort": 9866})
		}
		lbs = append(lbs, map[string]any{"blockToken": map[string]any{"urlString": "AAAAAA"}, "isCorrupt": false,
			"startOffset": s.offset, "storageTypes": []string{"DISK"}, "locations": locs, "cachedLocations": []any{},
			"block": map[string]any{"blockId": 1073741825 + i, "blockPoolId": "BP-1", "generationStamp": 1001,
				"numBytes": s.length}})
	}
	return map[string]any{"fileLength": fileLength, "isUnderConstruction": false, "isLastBlockComplete": true,
		"lastLocatedBlock": nil, "locatedBlocks": lbs}
}
