package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHelmManifest holds helmManifest to what Helm does with a template's
// output before `helm template` prints it and `helm install` applies it:
// documents split on Helm's separator, each trimmed and ended by exactly
// one newline, empty ones dropped.
func TestHelmManifest(t *testing.T) {
	tests := []struct {
		name, out, want string
	}{
		{"block scalar at the very end gains its newline",
			"data:\n  rules: |\n    {}", "---\ndata:\n  rules: |\n    {}\n"},
		{"trailing blank lines of a keep block become one newline",
			"k: |+\n  a\n\n\n", "---\nk: |+\n  a\n"},
		{"trailing spaces on the last line are trimmed",
			"k: |\n  a   ", "---\nk: |\n  a\n"},
		{"leading blank lines and separators dropped",
			"\n\n---\n\na: 1\n---\n\n", "---\na: 1\n"},
		{"documents kept in order",
			"a: 1\n---\nb: |\n  x\n---   \nc: 3", "---\na: 1\n---\nb: |\n  x\n---\nc: 3\n"},
		{"separator line with a comment after it",
			"a: 1\n--- # two\nb: 2\n", "---\na: 1\n---\n# two\nb: 2\n"},
		{"indented dashes inside a block are content",
			"k: |\n  ---\n  x\n", "---\nk: |\n  ---\n  x\n"},
		{"first line's indentation is trimmed, as Helm does",
			"  a: 1\n", "---\na: 1\n"},
		{"nothing", " \n\t\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, helmManifest(tt.out)); diff != "" {
				t.Errorf("helmManifest(%q) (-want +got):\n%s", tt.out, diff)
			}
		})
	}
}

// TestHelmBlockScalarEndingDocument renders the monitoring chart, whose
// templates end documents in block scalars the way the prometheus chart's
// server ConfigMap does, and checks each such value against what Helm
// gives (the golden test compares every object; this names the values
// that once differed).
func TestHelmBlockScalarEndingDocument(t *testing.T) {
	objs, _ := mustRender(t, testRepo, loadApp(t, testRepo, "monitoring"))
	data := map[string]map[string]any{}
	for _, o := range objs {
		d, _ := o.Object["data"].(map[string]any)
		data[o.GetName()] = d
	}
	tests := []struct {
		object, key, want string
	}{
		{"monitoring-monitoring-server", "rules", "{}\n"}, // ends the template, after {{- end -}}
		{"monitoring-monitoring-server", "alerts", "{}\n"},
		{"monitoring-monitoring-server", "recording_rules.yml", "{}\n"},
		{"monitoring-monitoring-trim-both", "motd", "hello\n"},
		{"monitoring-monitoring-trim-end", "banner", "maintained by the platform team\n"},
		{"monitoring-monitoring-clip", "first", "{}\n"},
		{"monitoring-monitoring-keep", "kept", "line one\nline two\n"},
		{"monitoring-monitoring-strip", "stripped", "no newline"},
		{"monitoring-monitoring-last", "rules", "a: {}\nb: {}\n"},
		{"monitoring-monitoring-hook", "script", "echo done\n"},
	}
	for _, tt := range tests {
		t.Run(tt.object+"/"+tt.key, func(t *testing.T) {
			d, ok := data[tt.object]
			if !ok {
				t.Fatalf("no object %s among %v", tt.object, keys(objs))
			}
			if got := d[tt.key]; got != tt.want {
				t.Errorf("data[%s] = %q, want %q as Helm gives", tt.key, got, tt.want)
			}
		})
	}
	if len(objs) != len(tests)-2 {
		t.Errorf("%d objects, want %d: %v", len(objs), len(tests)-2, keys(objs))
	}
}
