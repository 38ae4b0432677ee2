package webhdfs

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

const mib = 1 << 20

var (
	dn1 = fakeReplica{"dn1.example", "192.0.2.11"}
	dn2 = fakeReplica{"dn2.example", "192.0.2.12"}
	dn3 = fakeReplica{"dn3.example", "192.0.2.13"}
)

// testFiles: /data/f is two full 128 MiB blocks and a 60 MiB tail.
func testFiles() map[string][]fakeBlock {
	return map[string][]fakeBlock{
		"/data/f": {
			{128 * mib, []fakeReplica{dn1, dn2}},
			{128 * mib, []fakeReplica{dn2, dn3}},
			{60 * mib, []fakeReplica{dn3}},
		},
		"/data/empty":       {},
		"/dir with space/%": {{10, []fakeReplica{dn1}}},
	}
}

func blk(off, length int64, hosts ...string) datalocation.Block {
	return datalocation.Block{Offset: off, Length: length, Hosts: hosts}
}

var wholeF = []datalocation.Block{
	blk(0, 128*mib, "dn1.example", "dn2.example"),
	blk(128*mib, 128*mib, "dn2.example", "dn3.example"),
	blk(256*mib, 60*mib, "dn3.example"),
}

func TestClientRanges(t *testing.T) {
	tests := []struct {
		name           string
		file           string
		offset, length int64
		want           []datalocation.Block
	}{
		{"whole file", "/data/f", 0, -1, wholeF},
		{"middle block only", "/data/f", 128*mib + 1, 10, wholeF[1:2]},
		{"spanning two", "/data/f", 100 * mib, 100 * mib, wholeF[0:2]},
		{"from offset to end", "/data/f", 200 * mib, -1, wholeF[1:]},
		{"zero length", "/data/f", 5, 0, nil},
		{"past the end", "/data/f", 400 * mib, -1, nil},
		{"huge length", "/data/f", 0, 1<<63 - 1, wholeF},
		{"empty file", "/data/empty", 0, -1, nil},
		{"escaped path", "/dir with space/%", 0, -1, []datalocation.Block{blk(0, 10, "dn1.example")}},
	}
	for _, mode := range []string{"GETFILEBLOCKLOCATIONS", "fallback"} {
		nn := &fakeNameNode{files: testFiles(), legacy: mode == "fallback"}
		_, c := startFakeNameNode(t, nn)
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				got, err := c.BlockInfoByteRange(context.Background(), tt.file, tt.offset, tt.length)
				if err != nil {
					t.Fatalf("BlockInfoByteRange: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
				}
			})
		}
	}
}

func TestClientFallsBackOnceAndRemembers(t *testing.T) {
	for _, tt := range []struct {
		name string
		nn   *fakeNameNode
	}{
		{"IllegalArgumentException", &fakeNameNode{files: testFiles(), legacy: true}},
		{"bare 400 (old HttpFS)", &fakeNameNode{files: testFiles(), bareRefusal: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, c := startFakeNameNode(t, tt.nn)
			for range 2 {
				if _, err := c.BlockInfoByteRange(context.Background(), "/data/f", 0, 1); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{
				"GETFILEBLOCKLOCATIONS /data/f offset=0 length=1 user=tashi",
				"GET_BLOCK_LOCATIONS /data/f offset=0 length=1 user=tashi",
				"GET_BLOCK_LOCATIONS /data/f offset=0 length=1 user=tashi",
			}
			if got := tt.nn.log(); !reflect.DeepEqual(got, want) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestClientRequestParameters(t *testing.T) {
	nn := &fakeNameNode{files: testFiles()}
	srv, _ := startFakeNameNode(t, nn)
	c, err := New(Options{URL: srv.URL + "/gateway/"}) // no user; a base path
	if err != nil {
		t.Fatal(err)
	}
	// The fake serves no /gateway/ paths: only the request matters here.
	c.BlockInfoByteRange(context.Background(), "/data/../data/f", 7, -1)
	got := nn.log()
	if len(got) != 1 || !strings.HasPrefix(got[0], "GETFILEBLOCKLOCATIONS /gateway/webhdfs/v1/data/f offset=7 length= user=") {
		t.Errorf("requests = %q, want one GETFILEBLOCKLOCATIONS of /gateway/webhdfs/v1/data/f, offset 7, no length, no user", got)
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name      string
		answer    *fakeAnswer
		file      string
		wantText  []string
		notFound  bool
		exception string
	}{
		{name: "file not found", file: "/nope", notFound: true, exception: "FileNotFoundException",
			wantText: []string{"FileNotFoundException", "File does not exist: /nope", "HTTP 404"}},
		{name: "404 without RemoteException", file: "/data/f", notFound: true,
			answer:   &fakeAnswer{http.StatusNotFound, "<html>Not Found</html>"},
			wantText: []string{"HTTP 404", "<html>Not Found</html>"}},
		{name: "access denied", file: "/data/f", exception: "AccessControlException",
			answer: &fakeAnswer{http.StatusForbidden, `{"RemoteException":{"exception":"AccessControlException",` +
				`"javaClassName":"org.apache.hadoop.security.AccessControlException","message":"Permission denied: user=tashi"}}`},
			wantText: []string{"AccessControlException: Permission denied: user=tashi (HTTP 403)"}},
		{name: "security", file: "/data/f", exception: "SecurityException",
			answer: &fakeAnswer{http.StatusUnauthorized, `{"RemoteException":{"exception":"SecurityException",` +
				`"javaClassName":"java.lang.SecurityException","message":"Failed to obtain user group information: x"}}`},
			wantText: []string{"SecurityException", "HTTP 401"}},
		{name: "other 400 is not a refusal", file: "/data/f", exception: "IllegalArgumentException",
			answer: &fakeAnswer{http.StatusBadRequest, `{"RemoteException":{"exception":"IllegalArgumentException",` +
				`"javaClassName":"java.lang.IllegalArgumentException","message":"Invalid value for webhdfs parameter \"offset\": x"}}`},
			wantText: []string{"GETFILEBLOCKLOCATIONS", `parameter "offset"`}},
		{name: "malformed JSON", file: "/data/f", answer: &fakeAnswer{http.StatusOK, `{"BlockLocations":{"BlockLocation":[{"offset":`},
			wantText: []string{"decode BlockLocations"}},
		{name: "wrong object", file: "/data/f", answer: &fakeAnswer{http.StatusOK, `{"FileStatus":{}}`},
			wantText: []string{`no "BlockLocations" object`}},
		{name: "overlapping blocks", file: "/data/f", answer: &fakeAnswer{http.StatusOK,
			`{"BlockLocations":{"BlockLocation":[{"offset":0,"length":10,"hosts":["a"]},{"offset":5,"length":10,"hosts":["b"]}]}}`},
			wantText: []string{"overlaps"}},
		{name: "server error", file: "/data/f", answer: &fakeAnswer{http.StatusInternalServerError, "boom"},
			wantText: []string{"HTTP 500", "boom"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := startFakeNameNode(t, &fakeNameNode{files: testFiles(), override: tt.answer})
			_, err := c.BlockInfoByteRange(context.Background(), tt.file, 0, -1)
			if err == nil {
				t.Fatal("BlockInfoByteRange succeeded, want an error")
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if got := errors.Is(err, datalocation.ErrNotFound); got != tt.notFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.notFound)
			}
			var re *RemoteError
			if tt.exception != "" && (!errors.As(err, &re) || re.Exception != tt.exception) {
				t.Errorf("error %v: want a *RemoteError with exception %s", err, tt.exception)
			}
		})
	}
}

func TestClientArgumentErrors(t *testing.T) {
	_, c := startFakeNameNode(t, &fakeNameNode{files: testFiles()})
	if _, err := c.BlockInfoByteRange(context.Background(), "/data/f", -1, 5); !errors.Is(err, datalocation.ErrBadRange) {
		t.Errorf("negative offset: err = %v, want ErrBadRange", err)
	}
	if _, err := c.BlockInfoByteRange(context.Background(), "data/f", 0, 5); err == nil {
		t.Error("relative path: no error")
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "nn:9870", "ftp://nn", "http://", "http://nn:9870/?x=1", "http://nn/#f", "http://nn:x/"} {
		if _, err := New(Options{URL: u}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", u)
		}
	}
}

func TestFromConfig(t *testing.T) {
	if _, err := FromConfig(datalocation.Config{"url": "http://nn:9870", "user": "hdfs"}); err != nil {
		t.Errorf("valid config: %v", err)
	}
	for want, cfg := range map[string]datalocation.Config{
		`key "url" is required`:                   {"user": "x"},
		`unknown key "uri" (accepted: url, user)`: {"uri": "http://nn"},
		`want http:// or https://`:                {"url": "nn:9870"},
	} {
		if _, err := FromConfig(cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromConfig(%v) error = %v, want one containing %q", cfg, err, want)
		}
	}
}
