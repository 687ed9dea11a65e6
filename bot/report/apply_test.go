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
			Unhealthy: []string{hostile}, Hooks: []string{hostile}, RevertNote: "no revert"}}}
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
