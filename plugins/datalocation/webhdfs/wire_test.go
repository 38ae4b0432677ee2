package webhdfs

import (
	"reflect"
	"testing"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// documentedBlockLocations is WebHDFS.md's GETFILEBLOCKLOCATIONS example with
// its comments and "..." removed.
const documentedBlockLocations = `{
  "BlockLocations" :
  {
    "BlockLocation":
    [
      {
        "cachedHosts" : [],
        "corrupt" : false,
        "hosts" : ["host"],
        "length" : 134217728,
        "names" : ["host:ip"],
        "offset" : 0,
        "storageTypes" : ["DISK"],
        "topologyPaths" : ["/default-rack/hostname:ip"]
      }, {
        "cachedHosts" : [],
        "corrupt" : false,
        "hosts" : ["host"],
        "length" : 62599364,
        "names" : ["host:ip"],
        "offset" : 134217728,
        "storageTypes" : ["DISK"],
        "topologyPaths" : ["/default-rack/hostname:ip"]
      }
    ]
  }
}`

// jsonUtilLocatedBlocks is GET_BLOCK_LOCATIONS as JsonUtil.toJsonString
// (LocatedBlocks) writes it: TreeMap key order, full DatanodeInfo.
const jsonUtilLocatedBlocks = `{"LocatedBlocks":{"fileLength":1073741824,"isLastBlockComplete":true,` +
	`"isUnderConstruction":false,"lastLocatedBlock":null,"locatedBlocks":[{"block":{"blockId":1073741825,` +
	`"blockPoolId":"BP-1-192.0.2.1-1","generationStamp":1001,"numBytes":134217728},"blockToken":{"urlString":"AAAAAA"},` +
	`"cachedLocations":[],"isCorrupt":false,"locations":[{"adminState":"NORMAL","blockPoolUsed":0,"cacheCapacity":0,` +
	`"cacheUsed":0,"capacity":1099511627776,"dfsUsed":0,"hostName":"dn1.example","infoPort":9864,"infoSecurePort":0,` +
	`"ipAddr":"192.0.2.11","ipcPort":9867,"lastBlockReportMonotonic":0,"lastBlockReportTime":0,"lastUpdate":0,` +
	`"lastUpdateMonotonic":0,"name":"192.0.2.11:9866","networkLocation":"/default-rack","remaining":0,` +
	`"storageID":"d1","xceiverCount":1,"xferPort":9866},{"hostName":"","ipAddr":"192.0.2.12","xferPort":9866}],` +
	`"startOffset":0,"storageTypes":["DISK","DISK"]}]}}`

func TestDecodeDocumentedForms(t *testing.T) {
	got, err := decodeBlockLocations([]byte(documentedBlockLocations))
	if err != nil {
		t.Fatal(err)
	}
	want := []datalocation.Block{blk(0, 134217728, "host"), blk(134217728, 62599364, "host")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BlockLocations: got %+v, want %+v", got, want)
	}
	got, err = decodeLocatedBlocks([]byte(jsonUtilLocatedBlocks))
	if err != nil {
		t.Fatal(err)
	}
	// A location without a hostName is named by its ipAddr.
	want = []datalocation.Block{blk(0, 134217728, "dn1.example", "192.0.2.12")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LocatedBlocks: got %+v, want %+v", got, want)
	}
}

func TestDecodeHostsFromNames(t *testing.T) {
	got, err := decodeBlockLocations([]byte(`{"BlockLocations":{"BlockLocation":[` +
		`{"offset":0,"length":5,"hosts":[],"names":["192.0.2.11:9866","[2001:db8::1]:9866"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.11", "2001:db8::1"}; !reflect.DeepEqual(got[0].Hosts, want) {
		t.Errorf("hosts = %q, want %q", got[0].Hosts, want)
	}
}

func TestDecodeRemoteError(t *testing.T) {
	// WebHDFS.md's "File Not Found Exception" example.
	body := `{
      "RemoteException":
      {
        "exception"    : "FileNotFoundException",
        "javaClassName": "java.io.FileNotFoundException",
        "message"      : "File does not exist: /foo/a.patch"
      }
    }`
	got := decodeRemoteError(404, []byte(body))
	want := &RemoteError{404, "FileNotFoundException", "java.io.FileNotFoundException", "File does not exist: /foo/a.patch"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, body := range []string{
		``, `null`, `[]`, `{"BlockLocations":{"BlockLocation":[]}} trailing`,
		`{"BlockLocations":{"BlockLocation":[{"offset":-1,"length":1}]}}`,
		`{"BlockLocations":{"BlockLocation":[{"offset":9223372036854775807,"length":9}]}}`,
		`{"BlockLocations":{"BlockLocation":[{"offset":"0","length":1}]}}`,
	} {
		if got, err := decodeBlockLocations([]byte(body)); err == nil {
			t.Errorf("decodeBlockLocations(%q) = %+v, want an error", body, got)
		}
	}
	if got, err := decodeLocatedBlocks([]byte(`{"LocatedBlocks":{"locatedBlocks":[{"startOffset":10,"block":{"numBytes":5}},` +
		`{"startOffset":0,"block":{"numBytes":5}}]}}`)); err == nil {
		t.Errorf("decodeLocatedBlocks(out of order) = %+v, want an error", got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{documentedBlockLocations, jsonUtilLocatedBlocks,
		`{"RemoteException":{"exception":"FileNotFoundException","message":"x"}}`, `{"BlockLocations":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, decode := range []func([]byte) ([]datalocation.Block, error){decodeBlockLocations, decodeLocatedBlocks} {
			blocks, err := decode(body)
			if err == nil {
				if err := checkOrder(blocks); err != nil {
					t.Fatalf("decoded blocks out of order: %v", err)
				}
			}
		}
		if e := decodeRemoteError(400, body); e == nil || e.Error() == "" {
			t.Fatal("decodeRemoteError gave no error text")
		}
	})
}
