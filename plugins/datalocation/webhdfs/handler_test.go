package webhdfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// memLocator serves fixed blocks per file; file "/fail" fails.
type memLocator map[string][]datalocation.Block

func (m memLocator) BlockInfoByteRange(_ context.Context, file string, offset, length int64) ([]datalocation.Block, error) {
	if err := datalocation.CheckRange(offset, length); err != nil {
		return nil, err
	}
	if file == "/fail" {
		return nil, errors.New("mfsfileinfo exploded")
	}
	blocks, ok := m[file]
	if !ok {
		return nil, fmt.Errorf("locate %s: %w", file, datalocation.ErrNotFound)
	}
	return datalocation.Select(blocks, offset, length), nil
}

var memFiles = memLocator{
	"/data/a":     {blk(0, 64*mib, "10.213.0.11"), blk(64*mib, 64*mib, "10.213.0.12", "10.213.0.13"), blk(128*mib, 2*mib)},
	"/data/empty": {},
}

func TestHandlerAnswersBlockLocations(t *testing.T) {
	srv := httptest.NewServer(Handler(memFiles))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/webhdfs/v1/data/a?op=GETFILEBLOCKLOCATIONS&offset=0&length=1&user.name=x")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q, body %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var generic map[string]map[string][]map[string]any
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	bl := generic["BlockLocations"]["BlockLocation"]
	if len(bl) != 1 {
		t.Fatalf("BlockLocation = %v, want 1 entry", bl)
	}
	for _, key := range []string{"cachedHosts", "corrupt", "hosts", "length", "names", "offset", "storageTypes", "topologyPaths"} {
		if _, ok := bl[0][key]; !ok {
			t.Errorf("BlockLocation lacks %q (schema requires it): %s", key, body)
		}
	}
	if fmt.Sprint(bl[0]["hosts"]) != "[10.213.0.11]" || fmt.Sprint(bl[0]["topologyPaths"]) != "[/default-rack/10.213.0.11]" {
		t.Errorf("hosts/topologyPaths = %v / %v", bl[0]["hosts"], bl[0]["topologyPaths"])
	}
}

func TestHandlerRoundTripsThroughClient(t *testing.T) {
	srv := httptest.NewServer(Handler(memFiles))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{0, -1}, {64*mib + 5, 1}, {0, 0}, {1 << 40, -1}, {100 * mib, 1 << 40}} {
		for _, file := range []string{"/data/a", "/data/empty"} {
			want, _ := memFiles.BlockInfoByteRange(context.Background(), file, r[0], r[1])
			got, err := c.BlockInfoByteRange(context.Background(), file, r[0], r[1])
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: got %+v, %v; want %+v", file, r, got, err, want)
			}
		}
	}
	if _, err := c.BlockInfoByteRange(context.Background(), "/missing", 0, -1); !errors.Is(err, datalocation.ErrNotFound) {
		t.Errorf("missing file through the gateway: err = %v, want ErrNotFound", err)
	}
}

func TestHandlerErrors(t *testing.T) {
	srv := httptest.NewServer(Handler(memFiles))
	defer srv.Close()
	tests := []struct {
		name, method, url string
		status            int
		exception, text   string
	}{
		{"missing file", "GET", "/webhdfs/v1/nope?op=GETFILEBLOCKLOCATIONS", 404, "FileNotFoundException", "File does not exist: /nope"},
		{"not webhdfs", "GET", "/other/data/a?op=GETFILEBLOCKLOCATIONS", 404, "FileNotFoundException", "/webhdfs/v1/"},
		{"other op", "GET", "/webhdfs/v1/data/a?op=OPEN", 400, "UnsupportedOperationException", `op "OPEN" is not supported (accepted: GETFILEBLOCKLOCATIONS)`},
		{"no op", "GET", "/webhdfs/v1/data/a", 400, "UnsupportedOperationException", `op ""`},
		{"bad offset", "GET", "/webhdfs/v1/data/a?op=GETFILEBLOCKLOCATIONS&offset=x", 400, "IllegalArgumentException", `parameter "offset": "x"`},
		{"negative length", "GET", "/webhdfs/v1/data/a?op=GETFILEBLOCKLOCATIONS&length=-2", 400, "IllegalArgumentException", `parameter "length"`},
		{"post", "POST", "/webhdfs/v1/data/a?op=GETFILEBLOCKLOCATIONS", 405, "UnsupportedOperationException", "accepted: GET"},
		{"locator failure", "GET", "/webhdfs/v1/fail?op=getfileblocklocations", 500, "RuntimeException", "mfsfileinfo exploded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			re := decodeRemoteError(resp.StatusCode, body)
			if resp.StatusCode != tt.status || re.Exception != tt.exception || !strings.Contains(re.Message, tt.text) {
				t.Errorf("got %d %s, want %d %s containing %q", resp.StatusCode, body, tt.status, tt.exception, tt.text)
			}
		})
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
