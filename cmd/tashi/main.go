// Command tashi is Tashi-Go's client: tashi <verb> [--arg value]...
package main

import (
	"os"

	"github.com/tashi-go/tashi/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)) }
