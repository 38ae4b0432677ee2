package nodemanager_test

import (
	"fmt"
	"strconv"
	"testing"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func fmtAny(v any) string { return fmt.Sprint(v) }

func atoiPID(t *testing.T, s string) int {
	t.Helper()
	pid, err := strconv.Atoi(s)
	if err != nil || pid < 2 {
		t.Fatalf("vm id %q is not a pid", s)
	}
	return pid
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }
