// Command tashi-nm is the node manager: it runs the guests of one host.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tashi-go/tashi/nodemanager"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(nodemanager.Main(ctx, os.Args[1:], os.Stderr))
}
