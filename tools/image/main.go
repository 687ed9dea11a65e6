// Command image packs a static gantry binary into an OCI image archive
// without a container engine: an empty base, the binary at /gantry, the
// build machine's CA bundle, a non-root user, fixed timestamps. `make
// image` builds the binary and runs it; it prints the image's reference
// and digest.
//
// A module of its own, so go-containerregistry never enters gantry's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o Options
	var out, epoch string
	fs.StringVar(&o.Binary, "binary", "", "static linux/amd64 gantry binary")
	fs.StringVar(&o.CACerts, "ca-certificates", CACertsPath, "CA bundle to copy into the image")
	fs.StringVar(&o.Version, "version", "", "version the binary is stamped with; the image's tag")
	fs.StringVar(&o.Revision, "revision", "", "commit the binary is built from")
	fs.StringVar(&epoch, "created", os.Getenv("SOURCE_DATE_EPOCH"), "image timestamps, in seconds since 1970 (default $SOURCE_DATE_EPOCH)")
	fs.StringVar(&out, "out", "bin/gantry-image.tar", "archive to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (is a flag's value missing?)", fs.Args())
	}
	if o.Binary == "" || o.Version == "" {
		return fmt.Errorf("--binary and --version are required")
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return fmt.Errorf("--created %q (or SOURCE_DATE_EPOCH): want seconds since 1970: %w", epoch, err)
	}
	o.Created = time.Unix(secs, 0).UTC()
	img, err := Build(ctx, o)
	if err != nil {
		return err
	}
	ref := Reference(o.Version)
	if err := WriteArchive(out, ref, img, o.Created); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("read image digest: %w", err)
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n%s@%s\n%s (%.1f MB)\n", ref, Repository, digest, out, float64(st.Size())/1e6)
	return nil
}
