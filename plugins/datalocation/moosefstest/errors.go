package moosefstest

import "errors"

// ErrUnavailable reports that this machine cannot run the cluster: not root,
// no /dev/fuse, or a MooseFS or iproute2 binary missing. Start skips on it.
var ErrUnavailable = errors.New("moosefs test cluster unavailable")
