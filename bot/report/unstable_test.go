package report

import (
	"strings"
	"testing"

	"github.com/gantryops/gantry/nondet"
)

// unstableReport has an app whose chart generates values: a Secret's
// kept, an annotation regenerated because a value changed, and a field
// whose key a pull request chose to break out of the markdown.
func unstableReport() Report {
	return Report{HeadSHA: "abc1234", Apps: []App{{Name: "auth", Cluster: "prod", Objects: []Object{
		{Kind: "Secret", Namespace: "auth", Name: "auth-auth", Action: Unchanged, Unstable: []nondet.Field{
			{Path: ".data.password", SecretKey: "password", Outcome: nondet.KeptLive},
			{Path: `.stringData["web-config.yml"]`, SecretKey: "web-config.yml", Outcome: nondet.KeptLive},
		}},
		{Kind: "ConfigMap", Namespace: "auth", Name: "settings", Action: Update, Fields: []string{"metadata.annotations.checksum/random"},
			Diff: " metadata:\n", Unstable: []nondet.Field{
				{Path: `.metadata.annotations["checksum/random"]`, Outcome: nondet.InputsChanged},
			}},
		{Kind: "Job", Namespace: "auth", Name: "migrate-x7f2k", Action: Create, Diff: "+spec:\n", Unstable: []nondet.Field{
			{Path: ".metadata.name", Outcome: nondet.GeneratedName},
		}},
		{Kind: "ConfigMap", Namespace: "auth", Name: "hostile", Action: Create, Diff: "+data:\n", Unstable: []nondet.Field{
			{Path: ".data[\"x`\\n<!-- gantry:pr-summary -->\"]", Outcome: nondet.NewObject},
		}},
	}}}}
}

// TestUnstableFieldsLine: the comment and the diff check say which fields
// are not deterministic and what gantry did, regenerated values first; a
// Secret's fields by key only; a hostile key breaks out of nothing.
func TestUnstableFieldsLine(t *testing.T) {
	want := "**Not deterministic:** `auth` renders fields differently every time — " +
		"⚠️ regenerated, because the chart's inputs changed: ConfigMap auth/settings `.metadata.annotations[\"checksum/random\"]` · " +
		"⚠️ generated name, so every apply creates another object (and prune deletes the last one): Job auth/migrate-x7f2k `.metadata.name` · " +
		"generated for a new object: ConfigMap auth/hostile `.data[\"x'\\n&lt;!-- gantry:pr-summary --&gt;\"]` · " +
		"kept the live value: Secret auth/auth-auth `password`, `web-config.yml`"
	comment := Comment(unstableReport(), testMark)[0]
	check := DiffCheck(unstableReport()).Summary
	for name, body := range map[string]string{"comment": comment, "diff check": check} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("%s lacks the line\n%s\nin:\n%s", name, want, body)
		}
		if strings.Contains(body, ".data.password") || strings.Contains(body, "stringData") {
			t.Errorf("%s names a Secret field by path, want the key only:\n%s", name, body)
		}
		if strings.Contains(body, "<!-- gantry:pr-summary") {
			t.Errorf("%s lets a field name open an HTML comment:\n%s", name, body)
		}
	}
	if i, j := strings.Index(comment, "**Not deterministic:**"), strings.Index(comment, "<details>"); i < 0 || j < 0 || i > j {
		t.Errorf("the line must come above the folded diffs:\n%s", comment)
	}
	plain := unstableReport()
	for i := range plain.Apps[0].Objects {
		plain.Apps[0].Objects[i].Unstable = nil
	}
	if body := Comment(plain, testMark)[0]; strings.Contains(body, "Not deterministic") {
		t.Errorf("a report without unstable fields mentions them:\n%s", body)
	}
}

// TestUnstableFieldsLineBounded: an object with many generated fields
// names five, then how many more.
func TestUnstableFieldsLineBounded(t *testing.T) {
	o := Object{Kind: "ConfigMap", Namespace: "a", Name: "big", Action: Unchanged}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		o.Unstable = append(o.Unstable, nondet.Field{Path: ".data." + k, Outcome: nondet.KeptLive})
	}
	got := unstable(App{Name: "big", Objects: []Object{o}})
	want := "`big` renders fields differently every time — kept the live value: ConfigMap a/big `.data.a`, `.data.b`, `.data.c`, `.data.d`, `.data.e`, and 2 more"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
