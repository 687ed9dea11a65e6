package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Repository is where gantry's image is published; the chart's
// values.yaml names the same one.
const Repository = "ghcr.io/gantryops/gantry"

// Source is the repository the image's source label points at.
const Source = "https://github.com/gantryops/gantry"

// UID and GID are the non-root user the image runs as (distroless's
// "nonroot"); the chart's podSecurityContext runs as the same uid.
const (
	UID = 65532
	GID = 65532
)

// ConfigPath is where the chart mounts the server configuration; the
// image's default command reads it, so the image runs as the chart runs it.
const ConfigPath = "/etc/gantry/config/gantry.yaml"

// CacheDir is where the chart mounts serve's writable cache volume: the
// root filesystem is read-only.
const CacheDir = "/var/cache/gantry"

// CACertsPath is where Go's crypto/x509 looks first on Linux.
const CACertsPath = "/etc/ssl/certs/ca-certificates.crt"

// Options say what goes into the image.
type Options struct {
	// Binary is a static linux/amd64 gantry executable, put at /gantry.
	Binary string
	// CACerts is the build machine's CA bundle, put at CACertsPath so
	// gantry can reach GitHub over TLS from an empty base.
	CACerts string
	// Version tags the image and fills its version label; it must be the
	// version the binary was stamped with.
	Version string
	// Revision is the commit the binary was built from (revision label).
	Revision string
	// Created is every timestamp in the image (config, history, files), so
	// two builds of one commit give one digest.
	Created time.Time
}

// tagPattern is what the OCI distribution spec allows in a tag.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// Reference is the name an image of version is tagged with.
func Reference(version string) string {
	return Repository + ":" + version
}

// Build assembles gantry's image: one layer on an empty base holding the
// binary, the CA bundle and the passwd/group files naming the non-root
// user, with OCI media types throughout.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	if !tagPattern.MatchString(o.Version) {
		return nil, fmt.Errorf("build image: version %q is not an image tag (%s)", o.Version, tagPattern)
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("read gantry binary %s: %w", o.Binary, err)
	}
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates %s (install the ca-certificates package): %w", o.CACerts, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("read CA certificates %s: the file is empty", o.CACerts)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files, err := rootFS(bin, certs, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make image layer: %w", err)
	}
	created := v1.Time{Time: o.Created.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: created, CreatedBy: "gantry tools/image", Comment: "gantry, CA certificates, user gantry"},
	})
	if err != nil {
		return nil, fmt.Errorf("add image layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = created
	cf.Config = v1.Config{
		Entrypoint: []string{"/gantry"},
		Cmd:        []string{"serve", "--config", ConfigPath, "--cache-dir", CacheDir},
		User:       fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir: "/",
		Labels: map[string]string{
			"org.opencontainers.image.source":   Source,
			"org.opencontainers.image.version":  o.Version,
			"org.opencontainers.image.revision": o.Revision,
			"org.opencontainers.image.created":  created.Format(time.RFC3339),
			"org.opencontainers.image.title":    "gantry",
		},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	return img, nil
}

// passwd and group name root and the user gantry runs as, so tools that
// resolve uids (and Go's os/user) find a name and a home.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"gantry:x:65532:65532:gantry:/home/gantry:/sbin/nologin\n"
	group = "root:x:0:\ngantry:x:65532:\n"
)

// rootFS is the layer's tar: every entry in a fixed order, owned by root
// except gantry's home, stamped with created.
func rootFS(bin, certs []byte, created time.Time) ([]byte, error) {
	type entry struct {
		name     string
		mode     int64
		uid, gid int
		data     []byte
		dir      bool
	}
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "gantry", mode: 0o755, data: bin},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/gantry/", mode: 0o700, uid: UID, gid: GID, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: created.UTC()}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write %s into the image layer: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("write %s into the image layer: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close the image layer: %w", err)
	}
	return buf.Bytes(), nil
}
