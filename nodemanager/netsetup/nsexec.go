package netsetup

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// inNS runs f on an OS thread switched into ns and switches back. If ns is
// not open (netns.None()), f runs on the calling goroutine, in the
// caller's namespace. If switching back fails, the thread stays locked, so
// it exits with the goroutine instead of serving others in the wrong
// namespace.
func inNS(ns netns.NsHandle, f func() error) error {
	if !ns.IsOpen() {
		return f()
	}
	done := make(chan error, 1)
	go func() { done <- runLocked(ns, f) }()
	return <-done
}

func runLocked(ns netns.NsHandle, f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", ns, err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return errors.Join(ferr, fmt.Errorf("return to network namespace %s: %w", orig, err))
	}
	runtime.UnlockOSThread()
	return ferr
}
