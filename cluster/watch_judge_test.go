package cluster

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// managedDeployment is a Deployment whose managed fields say gantry
// applied its replicas and image at 10:00:00, plus the entries given.
func managedDeployment(t *testing.T, replicas int, image, applied string, extra string) *unstructured.Unstructured {
	t.Helper()
	doc := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ns
  annotations: {gantry.dev/applied: "` + applied + `"}
  managedFields:
  - manager: gantry
    operation: Apply
    apiVersion: apps/v1
    time: "2026-11-29T10:00:00Z"
    fieldsType: FieldsV1
    fieldsV1: {"f:metadata":{"f:annotations":{"f:gantry.dev/applied":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}
` + extra + `
spec:
  replicas: ` + itoa(replicas) + `
  template:
    metadata: {annotations: {injected: "yes"}}
    spec:
      containers: [{name: web, image: ` + image + `}]
`
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func itoa(n int) string { b, _ := yaml.Marshal(n); return string(b[:len(b)-1]) }

// An entry of another manager, at a time.
func entry(manager, operation, subresource, time, fields string) string {
	s := "  - manager: " + manager + "\n    operation: " + operation + "\n    apiVersion: apps/v1\n    fieldsType: FieldsV1\n    fieldsV1: " + fields + "\n"
	if subresource != "" {
		s += "    subresource: " + subresource + "\n"
	}
	if time != "" {
		s += "    time: \"" + time + "\"\n"
	}
	return s
}

func TestJudgeUpdateTellsGantrysWritesFromDrift(t *testing.T) {
	const (
		image    = `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}`
		replicas = `{"f:spec":{"f:replicas":{}}}`
		injected = `{"f:spec":{"f:template":{"f:metadata":{"f:annotations":{"f:injected":{}}}}}}`
		status   = `{"f:status":{"f:replicas":{}}}`
	)
	base := func(t *testing.T) *unstructured.Unstructured { return managedDeployment(t, 2, "web:1", "h1", "") }
	tests := []struct {
		name       string
		cur        func(t *testing.T) *unstructured.Unstructured
		own, drift bool
	}{
		{"gantry applies a new image", func(t *testing.T) *unstructured.Unstructured {
			u := managedDeployment(t, 2, "web:2", "h2", "")
			setTime(u, 0, "2026-11-29T10:05:00Z")
			return u
		}, true, false},
		{"gantry applies again in the same second: only the applied hash tells", func(t *testing.T) *unstructured.Unstructured {
			return managedDeployment(t, 2, "web:2", "h2", "")
		}, true, false},
		{"kubectl edit of the image", func(t *testing.T) *unstructured.Unstructured {
			return managedDeployment(t, 2, "web:2", "h1", entry("kubectl-edit", "Update", "", "2026-11-29T10:05:00Z", image))
		}, false, true},
		{"kubectl scale, which the API server records without a time", func(t *testing.T) *unstructured.Unstructured {
			return managedDeployment(t, 5, "web:1", "h1", entry("kubectl", "Update", "scale", "", replicas))
		}, false, true},
		{"a webhook's annotation, a field gantry does not hold", func(t *testing.T) *unstructured.Unstructured {
			u := managedDeployment(t, 2, "web:1", "h1", entry("injector", "Update", "", "2026-11-29T10:05:00Z", injected))
			unstructured.SetNestedField(u.Object, "no", "spec", "template", "metadata", "annotations", "injected")
			return u
		}, false, false},
		{"a controller's status write", func(t *testing.T) *unstructured.Unstructured {
			return managedDeployment(t, 2, "web:1", "h1", entry("kube-controller-manager", "Update", "status", "2026-11-29T10:05:00Z", status))
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cur := base(t), tt.cur(t)
			cur.SetResourceVersion("2")
			own, drift := judgeUpdate(nil, old, cur)
			if own != tt.own || drift != tt.drift {
				t.Errorf("own, drift = %v, %v; want %v, %v", own, drift, tt.own, tt.drift)
			}
		})
	}
}

// setTime sets the time of the i-th managed-fields entry.
func setTime(u *unstructured.Unstructured, i int, time string) {
	mf, _, _ := unstructured.NestedSlice(u.Object, "metadata", "managedFields")
	mf[i].(map[string]any)["time"] = time
	_ = unstructured.SetNestedSlice(u.Object, mf, "metadata", "managedFields")
}
