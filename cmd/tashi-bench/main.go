// Command tashi-bench measures the cluster manager's figures (make bench).
// See internal/bench for what is measured and how.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tashi-go/tashi/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := bench.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
