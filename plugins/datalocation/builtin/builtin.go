package builtin

import (
	"fmt"

	"github.com/tashi-go/tashi/plugins/datalocation"
	"github.com/tashi-go/tashi/plugins/datalocation/moosefs"
	"github.com/tashi-go/tashi/plugins/datalocation/webhdfs"
)

// Plugin names accepted by the registry.
const (
	MooseFS = "moosefs"
	WebHDFS = "webhdfs"
)

// NewRegistry returns a registry holding the in-tree plugins.
func NewRegistry() *datalocation.Registry {
	r := datalocation.NewRegistry()
	for name, f := range map[string]datalocation.Factory{
		MooseFS: moosefs.FromConfig,
		WebHDFS: webhdfs.FromConfig,
	} {
		if err := r.Register(name, f); err != nil {
			// Unreachable: the names above are distinct and non-empty.
			panic(fmt.Sprintf("builtin data location registry: %v", err))
		}
	}
	return r
}
