// Command tashi-cm is the cluster manager.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tashi-go/tashi/clustermanager"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(clustermanager.Main(ctx, os.Args[1:], os.Stderr))
}
