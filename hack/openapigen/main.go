// Command openapigen writes the Kubernetes OpenAPI schemas that gantry's
// offline validation ships (schema/data): it starts the cached local
// kube-apiserver (fixtures/localcluster, built by `make kube-bin`), reads
// every group-version document it serves under /openapi/v3, keeps the
// component schemas without their descriptions, and writes them gzipped.
// Run once per Kubernetes version with `make openapi-data`; the output is
// committed, so gantry never downloads a schema at run time.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gantryops/gantry/fixtures/localcluster"
)

func main() {
	out := flag.String("out", "schema/data", "directory the schema file is written to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

// run starts the cluster, collects the schemas and writes
// kubernetes-<major.minor>.json.gz into dir.
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
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	schemas := map[string]json.RawMessage{}
	for _, p := range names {
		raw, err := paths[p].Schema("application/json")
		if err != nil {
			return fmt.Errorf("read /openapi/v3/%s: %w", p, err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("decode /openapi/v3/%s: %w", p, err)
		}
		for name, s := range doc.Components.Schemas {
			b, err := json.Marshal(strip(s))
			if err != nil {
				return fmt.Errorf("encode %s: %w", name, err)
			}
			schemas[name] = b
		}
	}
	minor := strings.TrimSuffix(ver.Minor, "+")
	data, err := json.Marshal(map[string]any{"version": strings.TrimPrefix(ver.GitVersion, "v"), "schemas": schemas})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	file := fmt.Sprintf("%s/kubernetes-%s.%s.json.gz", dir, ver.Major, minor)
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	fmt.Printf("%s: %d schemas from %d documents, %d bytes (%d uncompressed)\n", file, len(schemas), len(names), buf.Len(), len(data))
	return nil
}

// strip drops descriptions, which validation never reads and which make
// up most of the documents' size.
func strip(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == "description" {
				if _, isText := e.(string); isText {
					delete(t, k)
					continue
				}
			}
			t[k] = strip(e)
		}
	case []any:
		for i := range t {
			t[i] = strip(t[i])
		}
	}
	return v
}
