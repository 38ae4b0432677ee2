package datalocation

import (
	"strings"
	"testing"
)

func TestConfig(t *testing.T) {
	c := Config{"mount": " /mnt/mfs ", "prefix": ""}
	if err := c.Check("moosefs", "mount", "prefix"); err != nil {
		t.Errorf("Check: %v", err)
	}
	err := Config{"mnt": "x", "mount": "y"}.Check("moosefs", "mount", "prefix")
	if err == nil || !strings.Contains(err.Error(), `moosefs config: unknown key "mnt" (accepted: mount, prefix)`) {
		t.Errorf("Check with bad key: %v", err)
	}
	if v, err := c.Required("moosefs", "mount"); v != "/mnt/mfs" || err != nil {
		t.Errorf("Required(mount) = %q, %v", v, err)
	}
	if _, err := c.Required("moosefs", "prefix"); err == nil || !strings.Contains(err.Error(), `key "prefix" is required`) {
		t.Errorf("Required(blank prefix) = %v, want an error naming the key", err)
	}
	if v := c.Get("prefix", "/"); v != "/" {
		t.Errorf(`Get(blank prefix, "/") = %q`, v)
	}
}
