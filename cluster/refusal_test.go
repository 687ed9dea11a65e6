package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestImmutableFieldRefusalIsOneLine proves that the API server's
// immutable-field refusal of a changed Job template is shown by its field
// and reason, without the Go dump of the template, which stays in Detail.
func TestImmutableFieldRefusalIsOneLine(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	job := func(image string) string {
		return `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "` + image + `"}]
`
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, job("registry.example/migrate:1")), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, objects(t, ns, job("registry.example/migrate:2")), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	d := find(set, "Job/"+ns+"/migrate")
	if want := "Job/" + ns + "/migrate dry-run failed: invalid: spec.template: field is immutable"; !strings.HasPrefix(d.Error, want) {
		t.Errorf("error %q does not start with %q", d.Error, want)
	}
	if strings.Contains(d.Error, "Containers") || len(d.Error) > 2*maxMessage {
		t.Errorf("error holds the dump (%d bytes): %q", len(d.Error), d.Error)
	}
	if !strings.Contains(d.Detail, `"Containers":[{"Name":"c","Image":"registry.example/migrate:2"`) {
		t.Errorf("detail lacks the API server's whole text: %q", d.Detail)
	}
}

// TestMissingNamespaceSaidOncePerApp proves that objects in a namespace
// that neither exists nor is rendered by the app give one app error with
// the fix, not one API error per object: the objects show as creations,
// and apply says the same once.
func TestMissingNamespaceSaidOncePerApp(t *testing.T) {
	ctx := context.Background()
	ns := fmt.Sprintf("missing-%d", appCount.Add(1))
	c, app := newClient(t), newApp(ns)
	docs := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: not-printed}\n"
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("namespace %q does not exist and the app does not create it (3 objects are in it): add a Namespace object", ns); !strings.Contains(set.Error, want) {
		t.Errorf("app error %q lacks %q", set.Error, want)
	}
	for _, o := range set.Objects {
		if o.Error != "" || o.Action != ActionCreate || !strings.Contains(o.Note, "namespace "+ns+" does not exist") || !strings.Contains(o.Diff, "+kind: ") {
			t.Errorf("%s: %+v, want a creation previewed with a note and no error", o.Object, o)
		}
		if strings.Contains(o.Diff, "not-printed") {
			t.Errorf("%s: diff shows the Secret's value", o.Object)
		}
	}
	if c := set.Counts(); c.Errors != 1 || c.Create != 3 || !set.HasErrors() {
		t.Errorf("counts %+v, want 3 creations and the one app error", c)
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo})
	if err == nil || cs == nil {
		t.Fatalf("apply into a missing namespace: %v, %v", cs, err)
	}
	if strings.Count(err.Error(), "add a Namespace object") != 1 || strings.Count(cs.Error, "add a Namespace object") != 1 {
		t.Errorf("apply does not say the fix once:\nerror: %v\nchange set error: %s", err, cs.Error)
	}
	for _, o := range cs.Objects {
		if o.Action != ChangeFailed || !strings.HasSuffix(o.Error, fmt.Sprintf("apply failed: namespace %q does not exist", ns)) {
			t.Errorf("%s: %+v", o.Object, o)
		}
	}
}
