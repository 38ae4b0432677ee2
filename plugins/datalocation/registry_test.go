package datalocation

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type nopLocator struct{ cfg Config }

func (nopLocator) BlockInfoByteRange(context.Context, string, int64, int64) ([]Block, error) {
	return nil, nil
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	f := func(cfg Config) (Locator, error) { return nopLocator{cfg}, nil }
	failing := func(Config) (Locator, error) { return nil, errors.New(`key "url" is required`) }
	for _, name := range []string{"webhdfs", "moosefs"} {
		if err := r.Register(name, f); err != nil {
			t.Fatalf("Register(%s): %v", name, err)
		}
	}
	if err := r.Register("broken", failing); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"moosefs": "already registered", "": "empty name"} {
		if err := r.Register(name, f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Register(%q) = %v, want an error containing %q", name, err, want)
		}
	}
	if err := r.Register("nil", nil); err == nil {
		t.Error("Register(nil factory) succeeded")
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"broken", "moosefs", "webhdfs"}) {
		t.Errorf("Names() = %v", got)
	}
	loc, err := r.New("moosefs", Config{"mount": "/m"})
	if err != nil || loc.(nopLocator).cfg["mount"] != "/m" {
		t.Errorf("New(moosefs) = %v, %v", loc, err)
	}
	if _, err := r.New("hdfs", nil); err == nil ||
		!strings.Contains(err.Error(), `unknown data location plugin "hdfs" (accepted: broken, moosefs, webhdfs)`) {
		t.Errorf("New(hdfs) = %v", err)
	}
	if _, err := r.New("broken", nil); err == nil || !strings.Contains(err.Error(), `configure data location plugin "broken": key "url"`) {
		t.Errorf("New(broken) = %v", err)
	}
}
