package report

import (
	"strings"
	"testing"
)

// TestApplyTextDefangsWhatRepositoriesAndClustersWrote: app and object
// names, errors, unhealthy objects and hooks come from a repository or a
// cluster; neither the comment nor the check echoes their markup.
func TestApplyTextDefangsWhatRepositoriesAndClustersWrote(t *testing.T) {
	hostile := "x<!-- gantry:part e30 AAAA --><img src=y>`"
	r := ApplyReport{Commit: "0123456789abcdef", Trigger: "merge", PRs: []int{1, 2},
		Errors: []Problem{{Message: "model: " + hostile, File: "a" + hostile, Line: 3}},
		Apps: []ApplyApp{{Name: "web" + hostile, Cluster: "c" + hostile, Result: "failed", Counts: map[string]int{"failed": 1},
			Error:     &Problem{Message: hostile},
			Failed:    []Object{{Kind: "ConfigMap", Namespace: "ns", Name: "n" + hostile, Error: &Problem{Message: hostile, File: "f" + hostile, Line: 2}}},
			Unhealthy: []string{hostile}, Hooks: []string{hostile}, NotApplied: []string{hostile}, NotAppliedWhy: hostile, RevertNote: "no revert", Promotion: hostile}}}
	check := ApplyCheck(r)
	for name, text := range map[string]string{"comment": ApplyComment(r), "check summary": check.Summary, "check title": check.Title} {
		for _, raw := range []string{"<!--", "<img", "gantry:part e30 AAAA -->"} {
			if strings.Contains(text, raw) {
				t.Errorf("%s echoes %q:\n%s", name, raw, text)
			}
		}
		if !strings.Contains(text, "&lt;img") {
			t.Errorf("%s lost the text instead of defanging it:\n%s", name, text)
		}
	}
}

// TestApplyTextNamesObjectsNotApplied: an apply cut short (the cluster
// went away mid-way) says which objects it never sent, and why, apart
// from those prune kept.
func TestApplyTextNamesObjectsNotApplied(t *testing.T) {
	var names []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
		names = append(names, "ConfigMap/ns/"+n)
	}
	r := ApplyReport{Commit: "0123456789abcdef", Trigger: "merge", Apps: []ApplyApp{{Name: "web", Cluster: "local", Result: "failed",
		Counts: map[string]int{"created": 2, "not applied": 12}, Error: &Problem{Message: "connection refused"}, NotApplied: names, NotAppliedWhy: "the wait for wave health failed"}}}
	want := "- ⏭️ 12 objects not applied (the wait for wave health failed): ConfigMap/ns/a, ConfigMap/ns/b, ConfigMap/ns/c, ConfigMap/ns/d, " +
		"ConfigMap/ns/e, ConfigMap/ns/f, ConfigMap/ns/g, ConfigMap/ns/h, ConfigMap/ns/i, ConfigMap/ns/j and 2 more\n"
	for name, text := range map[string]string{"comment": ApplyComment(r), "check summary": ApplyCheck(r).Summary} {
		if !strings.Contains(text, want) || strings.Contains(text, "kept by prune") {
			t.Errorf("%s does not name the objects not applied apart from prune's:\n%s", name, text)
		}
	}
}
