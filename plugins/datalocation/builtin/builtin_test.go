package builtin

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefs"
	"github.com/tashi-go/tashi/plugins/datalocation/webhdfs"
)

func TestNewRegistry(t *testing.T) {
	r := NewRegistry()
	if got := r.Names(); !reflect.DeepEqual(got, []string{"moosefs", "webhdfs"}) {
		t.Errorf("Names() = %v", got)
	}
	loc, err := r.New(MooseFS, datalocation.Config{"mount": "/mnt/mfs", "prefix": "/data"})
	if _, ok := loc.(*moosefs.Locator); !ok || err != nil {
		t.Errorf("New(moosefs) = %T, %v", loc, err)
	}
	loc, err = r.New(WebHDFS, datalocation.Config{"url": "http://nn.example:9870"})
	if _, ok := loc.(*webhdfs.Client); !ok || err != nil {
		t.Errorf("New(webhdfs) = %T, %v", loc, err)
	}
	if _, err := r.New(MooseFS, datalocation.Config{"mountpoint": "/mnt"}); err == nil ||
		!strings.Contains(err.Error(), `unknown key "mountpoint" (accepted: mount, prefix, mfsfileinfo)`) {
		t.Errorf("New(moosefs, bad key) = %v", err)
	}
	if _, err := r.New("hdfs", nil); err == nil || !strings.Contains(err.Error(), "accepted: moosefs, webhdfs") {
		t.Errorf("New(hdfs) = %v", err)
	}
}
