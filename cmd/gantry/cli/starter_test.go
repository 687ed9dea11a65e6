package cli

import (
	"strings"
	"testing"
)

func TestStarterPackFlags(t *testing.T) {
	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    gantry.dev/allow: |
      probes: a batch worker, nothing to probe
      resources: sized by the VPA
      read-only-root-fs: writes its cache to /tmp
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers: [{name: app, image: "nginx:%s", securityContext: {allowPrivilegeEscalation: false}}]
`
	repo := func(tag string) string {
		return tree(t, map[string]string{
			".gantry.yaml":         "version: 1\napps:\n  - name: web\n    path: apps/web\n    namespace: web\n",
			"apps/web/deploy.yaml": strings.Replace(deploy, "%s", tag, 1),
		})
	}
	pinned, latest := repo("1.27.3"), repo("latest")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"denied by ID", []string{"policy", "--repo", latest, "--starter-pack"}, ExitFinding,
			[]string{"[image-pinned] container app: image \"nginx:latest\"", "rule starter.deny", "1 deny"}, ""},
		{"excepted with reasons", []string{"policy", "--repo", pinned, "--starter-pack"}, ExitOK,
			[]string{"excepted  web · Deployment web/web · apps/web/deploy.yaml:1", "(excepted: sized by the VPA)", "0 denies, 0 warnings, 0 errors, 3 excepted"}, ""},
		{"a rule excluded", []string{"policy", "--repo", latest, "--starter-pack", "--starter-exclude", "image-pinned"}, ExitOK,
			[]string{"0 denies"}, ""},
		{"an unknown rule excluded", []string{"policy", "--repo", latest, "--starter-pack", "--starter-exclude", "image-pined"}, ExitError,
			nil, `"image-pined" is not a rule`},
		{"settings without the pack", []string{"policy", "--repo", latest, "--starter-exclude", "probes"}, ExitError,
			nil, "need --starter-pack"},
		{"the pack's own tests", []string{"policy", "test", "--repo", latest, "--starter-pack"}, ExitOK,
			[]string{"starter.test_image_tags", "0 failed"}, ""},
		{"the rules listed", []string{"policy", "starter-pack"}, ExitOK,
			[]string{"image-pinned ", "no-plain-secret ", "gantry.dev/allow"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			ok := code == tt.code && strings.Contains(errOut, tt.stderr)
			for _, s := range tt.stdout {
				ok = ok && strings.Contains(out, s)
			}
			if !ok {
				t.Errorf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, out, tt.stderr, errOut)
			}
		})
	}
}
