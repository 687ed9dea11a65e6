package hatest

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/gantryops/gantry/cmd/gantry/cli"
	"github.com/gantryops/gantry/fixtures/localcluster"
)

// serveEnv set to "1" makes the test binary run as `gantry`: a replica is
// this binary started again, so the test needs no separate build.
const serveEnv = "GANTRY_HATEST_AS_GANTRY"

var kube *localcluster.Cluster

func TestMain(m *testing.M) {
	// A replica's render worker is this binary too, started with an
	// empty environment.
	if os.Getenv(serveEnv) == "1" || len(os.Args) > 1 && os.Args[1] == "render-worker" {
		// As cmd/gantry's main: SIGTERM stops gracefully (the Lease is
		// released); SIGKILL, what the tests send, stops nothing cleanly.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	// No controllers: a Deployment stays unhealthy until a test writes
	// its status, which is how the apply test holds an apply mid-wait.
	os.Exit(localcluster.Main(m, localcluster.Options{}, &kube))
}
