// Command tashi-agent places pending VMs and carries out their lifecycle
// transitions on node managers.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tashi-go/tashi/agents"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(agents.Main(ctx, os.Args[1:], os.Stderr))
}
