// Command gantry is the GitHub App for operations by pull request on
// Kubernetes, and the command line that runs each of its stages by hand.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gantryops/gantry/cmd/gantry/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
