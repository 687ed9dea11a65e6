package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteArchive writes img, tagged ref, as one tar that is both an OCI
// image layout (oci-layout, index.json, blobs/sha256/…: podman load,
// skopeo oci-archive:, containerd's ctr import, docker load ≥ 25) and a
// docker-archive (manifest.json naming the same blobs: older docker load,
// skopeo docker-archive:, crane push, kind load image-archive), as
// `docker save` has written since Docker 25. The blobs are stored as
// built, so the layout's manifest digest is the one a registry will show.
// Every entry carries modTime, so equal images give equal archives.
func WriteArchive(path, ref string, img v1.Image, modTime time.Time) (err error) {
	tag := ref[strings.LastIndex(ref, ":")+1:]
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("read image manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("read image digest: %w", err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("read image config: %w", err)
	}
	configName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("read image config digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("read image layers: %w", err)
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1,
			Size:      int64(len(manifest)),
			Digest:    digest,
			Annotations: map[string]string{
				"io.containerd.image.name":          ref,
				"org.opencontainers.image.ref.name": tag,
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("encode index.json: %w", err)
	}
	docker := tarball.Manifest{{Config: blobPath(configName), RepoTags: []string{ref}}}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return fmt.Errorf("read layer digest: %w", err)
		}
		docker[0].Layers = append(docker[0].Layers, blobPath(d))
	}
	dockerManifest, err := json.Marshal(docker)
	if err != nil {
		return fmt.Errorf("encode manifest.json: %w", err)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gantry-image-*.tar")
	if err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	w := &archiveWriter{tw: tar.NewWriter(tmp), modTime: modTime.UTC()}
	w.dir("blobs/")
	w.dir("blobs/sha256/")
	w.file(blobPath(configName), config)
	for _, l := range layers {
		w.layer(l)
	}
	w.file(blobPath(digest), manifest)
	w.file("index.json", index)
	w.file("manifest.json", dockerManifest)
	w.file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	if w.err == nil {
		w.err = w.tw.Close()
	}
	if w.err != nil {
		return fmt.Errorf("write image archive %s: %w", path, w.err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write image archive %s: %w", path, err)
	}
	return nil
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// archiveWriter keeps the first error, so the archive's layout reads as a
// list of entries.
type archiveWriter struct {
	tw      *tar.Writer
	modTime time.Time
	err     error
}

func (w *archiveWriter) header(name string, typ byte, mode, size int64) {
	if w.err != nil {
		return
	}
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: w.modTime}); err != nil {
		w.err = fmt.Errorf("%s: %w", name, err)
	}
}

func (w *archiveWriter) dir(name string) { w.header(name, tar.TypeDir, 0o755, 0) }

func (w *archiveWriter) file(name string, data []byte) {
	w.header(name, tar.TypeReg, 0o644, int64(len(data)))
	if w.err != nil {
		return
	}
	if _, err := w.tw.Write(data); err != nil {
		w.err = fmt.Errorf("%s: %w", name, err)
	}
}

// layer copies a layer's compressed blob, as the manifest names it.
func (w *archiveWriter) layer(l v1.Layer) {
	if w.err != nil {
		return
	}
	d, err := l.Digest()
	if err != nil {
		w.err = fmt.Errorf("read layer digest: %w", err)
		return
	}
	size, err := l.Size()
	if err != nil {
		w.err = fmt.Errorf("read layer %s size: %w", d, err)
		return
	}
	rc, err := l.Compressed()
	if err != nil {
		w.err = fmt.Errorf("read layer %s: %w", d, err)
		return
	}
	defer rc.Close()
	w.header(blobPath(d), tar.TypeReg, 0o644, size)
	if w.err != nil {
		return
	}
	n, err := io.Copy(w.tw, rc)
	switch {
	case err != nil:
		w.err = fmt.Errorf("copy layer %s: %w", d, err)
	case n != size:
		w.err = fmt.Errorf("copy layer %s: %d bytes, its size says %d", d, n, size)
	}
}
