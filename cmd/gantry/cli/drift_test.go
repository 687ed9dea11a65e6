package cli

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestDriftAgainstTheLocalCluster(t *testing.T) {
	ctx := context.Background()
	ns := kube.Namespace(t)
	repo := tree(t, map[string]string{
		".gantry.yaml":         "version: 1\napps:\n  - name: web\n    path: apps/web\n    namespace: " + ns + "\n",
		"apps/web/cm.yaml":     cm,
		"apps/web/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2-do-not-print\n",
	})
	kc := []string{"--repo", repo, "--kubeconfig", kube.Kubeconfig}
	if code, out, errOut := run(t, append([]string{"apply"}, kc...)...); code != ExitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, append([]string{"drift"}, kc...)...); code != ExitOK || !strings.Contains(out, "app web: no drift") {
		t.Fatalf("drift after apply: exit %d, want 0\n%s%s", code, out, errOut)
	}

	edit := func(kind, name, patch string) {
		t.Helper()
		var err error
		opts := metav1.PatchOptions{FieldManager: "kubectl-edit"}
		if kind == "secret" {
			_, err = kube.Client.CoreV1().Secrets(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), opts)
		} else {
			_, err = kube.Client.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), opts)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	edit("configmap", "flags", `{"data":{"a":"2"}}`)
	edit("secret", "creds", `{"stringData":{"password":"hunter3-do-not-print"}}`)
	code, out, errOut := run(t, append([]string{"drift"}, kc...)...)
	for _, want := range []string{"app web: 2 objects drifted", `data.a: "1" -> "2", by kubectl-edit at `, "data.password: (hidden) -> (hidden), by kubectl-edit"} {
		if !strings.Contains(out, want) {
			t.Errorf("drift output lacks %q", want)
		}
	}
	if code != ExitFinding || strings.Contains(out+errOut, "hunter") || strings.Contains(out+errOut, "aHVudGVy") {
		t.Errorf("drift: exit %d, want 1 without Secret values\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, append([]string{"drift", "-o", "json"}, kc...)...)
	if code != ExitFinding || !strings.Contains(out, `"manager": "kubectl-edit"`) || !strings.Contains(out, `"path": "data.a"`) {
		t.Errorf("drift -o json: exit %d, want 1 with the field and its manager\n%s", code, out)
	}

	if err := kube.Client.CoreV1().ConfigMaps(ns).Delete(ctx, "flags", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, append([]string{"drift", "--app", "web"}, kc...)...); code != ExitFinding || !strings.Contains(out, "ConfigMap/"+ns+"/flags: gone") {
		t.Errorf("drift after a deletion: exit %d, want 1 with the ConfigMap gone\n%s", code, out)
	}
	if code, _, errOut := run(t, append([]string{"drift", "-o", "markdown"}, kc...)...); code != ExitError || !strings.Contains(errOut, "want text or json") {
		t.Errorf("drift -o markdown: exit %d, want 2\n%s", code, errOut)
	}
}
