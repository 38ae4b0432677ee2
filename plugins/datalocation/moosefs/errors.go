package moosefs

import (
	"fmt"
	"strings"

	"github.com/tashi-go/tashi/plugins/datalocation"
)

// outputError turns an error message printed by mfsfileinfo ("FILE: realpath
// error on (FILE): ENOENT (No such file or directory)", "FILE: not MFS
// object", "FILE [3]: ...") into an error; ENOENT wraps
// datalocation.ErrNotFound.
func outputError(msg string) error {
	msg = strings.TrimSpace(msg)
	if strings.Contains(msg, "ENOENT") {
		return fmt.Errorf("mfsfileinfo says %q: %w", msg, datalocation.ErrNotFound)
	}
	return fmt.Errorf("mfsfileinfo says %q", msg)
}
