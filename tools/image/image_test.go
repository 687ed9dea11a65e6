package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

const root = "../.."

// binary is gantry built static for linux/amd64 with the flags `make
// image` uses (so each fills the build cache for the other), once for the
// package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gantry-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gantry")
	cmd := exec.Command("go", "build", "-trimpath", "-o", binary,
		"-ldflags", "-s -w -X github.com/gantryops/gantry/cmd/gantry/cli.Version=test", "./cmd/gantry")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build gantry: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var created = time.Unix(1764000000, 0).UTC()

func build(t *testing.T, at time.Time) v1.Image {
	t.Helper()
	img, err := Build(context.Background(), Options{Binary: binary, CACerts: CACertsPath, Version: "test", Revision: "abc123", Created: at})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// chartContainer renders charts/gantry with its defaults through gantry's
// own renderer and returns the Deployment's gantry container and pod spec.
func chartContainer(t *testing.T) (container, pod map[string]any) {
	t.Helper()
	app := config.App{Name: "gantry", Path: "charts/gantry", Render: config.RenderHelm, Namespace: "gantry",
		Helm: &config.Helm{ReleaseName: "gantry", Set: map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github"}}}
	objs, _, err := render.Render(context.Background(), root, app)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		pod := o.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		for _, c := range pod["containers"].([]any) {
			if c := c.(map[string]any); c["name"] == "gantry" {
				return c, pod
			}
		}
	}
	t.Fatal("the chart renders no Deployment with a gantry container")
	return nil, nil
}

// TestChartDefaultImageIsTheOneMakeImageTags proves the chart, installed
// with its defaults, pulls the reference `make image` tags, and that the
// Makefile stamps the binary with the version it tags.
func TestChartDefaultImageIsTheOneMakeImageTags(t *testing.T) {
	cmd := exec.Command("make", "--no-print-directory", "-n", "image")
	cmd.Dir = root
	// The defaults, as `make image` alone: no VERSION from the caller.
	cmd.Env = append(without(os.Environ(), "VERSION=", "MAKEFLAGS=", "MFLAGS="), "MAKEFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n image: %v\n%s", err, out)
	}
	tagged := regexp.MustCompile(`--version (\S+)`).FindStringSubmatch(string(out))
	stamped := regexp.MustCompile(`cli\.Version=(\S+)`).FindStringSubmatch(string(out))
	if tagged == nil || stamped == nil {
		t.Fatalf("make -n image names no --version or no cli.Version stamp:\n%s", out)
	}
	if tagged[1] != stamped[1] {
		t.Errorf("make image stamps the binary %q but tags the image %q", stamped[1], tagged[1])
	}
	c, _ := chartContainer(t)
	if got, want := c["image"], Reference(tagged[1]); got != want {
		t.Errorf("the chart's default image is %q, make image tags %q", got, want)
	}
}

func without(env []string, prefixes ...string) []string {
	var out []string
next:
	for _, e := range env {
		for _, p := range prefixes {
			if strings.HasPrefix(e, p) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// TestImageRunsAsTheChartRunsIt proves the image's config: /gantry as the
// entrypoint, the chart's own arguments as the command (so `docker run`
// and the chart start the same server), the chart's non-root uid, the
// platform, and the OCI labels.
func TestImageRunsAsTheChartRunsIt(t *testing.T) {
	cf, err := build(t, created).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c, pod := chartContainer(t)
	var chartArgs []string
	for _, a := range c["args"].([]any) {
		chartArgs = append(chartArgs, a.(string))
	}
	runAs := pod["securityContext"].(map[string]any)["runAsUser"]
	got := map[string]any{
		"entrypoint": cf.Config.Entrypoint, "cmd": cf.Config.Cmd, "user": cf.Config.User,
		"platform": cf.OS + "/" + cf.Architecture, "created": cf.Created.UTC(), "labels": cf.Config.Labels,
	}
	want := map[string]any{
		"entrypoint": []string{"/gantry"}, "cmd": chartArgs, "user": fmt.Sprintf("%v:%v", runAs, runAs),
		"platform": "linux/amd64", "created": created,
		"labels": map[string]string{
			"org.opencontainers.image.source":   "https://github.com/gantryops/gantry",
			"org.opencontainers.image.version":  "test",
			"org.opencontainers.image.revision": "abc123",
			"org.opencontainers.image.created":  "2025-11-24T16:00:00Z",
			"org.opencontainers.image.title":    "gantry",
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("image config (-want +got):\n%s", d)
	}
}

type file struct {
	Mode     int64
	UID, GID int
	Type     byte
}

// TestImageHoldsTheBinaryCertsAndUserOnly lists the image's one layer:
// exactly the binary (executable, the bytes built, static x86-64), the CA
// bundle, the passwd and group files naming gantry as 65532, and no shell
// or anything else.
func TestImageHoldsTheBinaryCertsAndUserOnly(t *testing.T) {
	layers, err := build(t, created).Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]file{}
	content := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = file{h.Mode, h.Uid, h.Gid, h.Typeflag}
		if !h.ModTime.Equal(created) {
			t.Errorf("%s dated %s, want %s", h.Name, h.ModTime, created)
		}
		if content[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	dir, reg := byte(tar.TypeDir), byte(tar.TypeReg)
	want := map[string]file{
		"etc/":                              {0o755, 0, 0, dir},
		"etc/group":                         {0o644, 0, 0, reg},
		"etc/passwd":                        {0o644, 0, 0, reg},
		"etc/ssl/":                          {0o755, 0, 0, dir},
		"etc/ssl/certs/":                    {0o755, 0, 0, dir},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0, 0, reg},
		"gantry":                            {0o755, 0, 0, reg},
		"home/":                             {0o755, 0, 0, dir},
		"home/gantry/":                      {0o700, UID, GID, dir},
		"tmp/":                              {0o1777, 0, 0, dir},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("layer contents (-want +got):\n%s", d)
	}
	if _, ok := got["bin/sh"]; ok {
		t.Error("the image holds a shell")
	}
	for name, path := range map[string]string{"gantry": binary, "etc/ssl/certs/ca-certificates.crt": CACertsPath} {
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, content[name]) {
			t.Errorf("/%s differs from %s (%v)", name, path, err)
		}
	}
	if f, err := elf.NewFile(bytes.NewReader(content["gantry"])); err != nil {
		t.Errorf("/gantry is not an ELF executable: %v", err)
	} else {
		if f.Machine != elf.EM_X86_64 {
			t.Errorf("/gantry is built for %s, want x86-64", f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/gantry needs a dynamic loader, which an empty base lacks")
			}
		}
	}
	if !strings.Contains(string(content["etc/passwd"]), "\ngantry:x:65532:65532:") ||
		!strings.Contains(string(content["etc/group"]), "\ngantry:x:65532:") {
		t.Errorf("passwd/group do not name gantry as 65532:\n%s%s", content["etc/passwd"], content["etc/group"])
	}
}

// TestTwoBuildsGiveOneDigest proves the build is reproducible: the same
// inputs give the same image digest and the same archive bytes, while the
// timestamp is really used (another one gives another digest).
func TestTwoBuildsGiveOneDigest(t *testing.T) {
	dir := t.TempDir()
	var digests []v1.Hash
	var sums [][32]byte
	for i, at := range []time.Time{created, created, created.Add(time.Second)} {
		img := build(t, at)
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
		path := filepath.Join(dir, fmt.Sprintf("%d.tar", i))
		if err := WriteArchive(path, Reference("test"), img, at); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sha256.Sum256(b))
	}
	if digests[0] != digests[1] || sums[0] != sums[1] {
		t.Errorf("two builds differ: digests %s, %s; archives %x, %x", digests[0], digests[1], sums[0], sums[1])
	}
	if digests[0] == digests[2] {
		t.Errorf("a build a second later has the same digest %s: the timestamp is ignored", digests[0])
	}
}

// TestArchiveLoadsAsOCILayoutAndDockerArchive reads the archive back both
// ways tools load it: as an OCI layout (podman, skopeo oci-archive:,
// containerd), which keeps the built manifest digest and names the tag,
// and as a docker-archive (docker load, crane push), with the same config.
func TestArchiveLoadsAsOCILayoutAndDockerArchive(t *testing.T) {
	img := build(t, created)
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	wantConfig, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gantry-image.tar")
	ref := Reference("test")
	if err := WriteArchive(path, ref, img, created); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	untar(t, path, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "test" ||
		im.Manifests[0].Annotations["io.containerd.image.name"] != ref {
		t.Fatalf("index.json %+v, want one manifest %s tagged %s", im.Manifests, want, ref)
	}
	fromLayout, err := idx.Image(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(fromLayout); err != nil {
		t.Errorf("the OCI layout's image: %v", err)
	}

	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	fromDocker, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("read as a docker-archive: %v", err)
	}
	if got, err := fromDocker.ConfigName(); err != nil || got != wantConfig {
		t.Errorf("docker-archive config %s (%v), want %s", got, err, wantConfig)
	}
	if err := validate(fromDocker); err != nil {
		t.Errorf("the docker-archive's image: %v", err)
	}
}

// validate reads every layer through, checking its digests.
func validate(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		d, err := l.Digest()
		if err != nil {
			return err
		}
		if got := fmt.Sprintf("sha256:%x", sha256.Sum256(b)); got != d.String() {
			return fmt.Errorf("layer %s holds %s", d, got)
		}
	}
	return nil
}

func untar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBuildFailsClearlyWithoutCACerts proves a machine without a CA
// bundle gets an error naming the file, not an image that cannot reach
// GitHub.
func TestBuildFailsClearlyWithoutCACerts(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca-certificates.crt")
	_, err := Build(context.Background(), Options{Binary: binary, CACerts: missing, Version: "test", Created: created})
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one naming %s and wrapping not-exist", err, missing)
	}
}

// TestBuildRefusesAVersionThatIsNoTag proves a missing or mangled version
// (an empty appVersion leaves the Makefile passing the next flag) stops the
// build instead of tagging the image with it.
func TestBuildRefusesAVersionThatIsNoTag(t *testing.T) {
	for _, v := range []string{"", "--revision", "0.1.0 beta", "v1+build"} {
		_, err := Build(context.Background(), Options{Binary: binary, CACerts: CACertsPath, Version: v, Created: created})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", v)) {
			t.Errorf("version %q: err = %v, want one naming it", v, err)
		}
	}
	if _, err := Build(context.Background(), Options{Binary: binary, CACerts: CACertsPath, Version: "0.1.0-rc.1_2", Created: created}); err != nil {
		t.Errorf("version 0.1.0-rc.1_2: %v", err)
	}
}
