// Command openapigen writes the Kubernetes OpenAPI schemas that gantry's
// offline validation ships (schema/data): it starts the cached local
// kube-apiserver (fixtures/localcluster, built by `make kube-bin`) and
// writes what schema.Generate makes of its /openapi/v3 documents. Run once
// per Kubernetes version with `make openapi-data`; the output is
// committed, so gantry never downloads a schema at run time.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantryops/gantry/fixtures/localcluster"
	"github.com/gantryops/gantry/schema"
)

func main() {
	out := flag.String("out", "schema/data", "directory the schema file is written to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

// run starts the cluster and writes its schema file into dir.
func run(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = c.Stop() }()
	ver, err := c.Client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	paths, err := c.Client.Discovery().OpenAPIV3().Paths()
	if err != nil {
		return fmt.Errorf("list /openapi/v3: %w", err)
	}
	plain, gz, err := schema.Generate(ver.GitVersion, paths)
	if err != nil {
		return err
	}
	file := filepath.Join(dir, schema.FileName(ver.Major+"."+strings.TrimSuffix(ver.Minor, "+")))
	if err := os.WriteFile(file, gz, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	fmt.Printf("%s: %d documents, %d bytes (%d uncompressed)\n", file, len(paths), len(gz), len(plain))
	return nil
}
