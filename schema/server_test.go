package schema

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/fixtures/localcluster"
)

var kube *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(localcluster.Main(m, localcluster.Options{}, &kube))
}

// widgetCRD is the CustomResourceDefinition the custom cases use: types,
// a required field, an enum, a pattern, a maximum and int-or-string.
const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.offline.gantry.dev}
spec:
  group: offline.gantry.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              replicas: {type: integer, maximum: 10}
              size: {type: string, enum: [small, large]}
              owner: {type: string, pattern: '^[a-z]+$'}
              port: {x-kubernetes-int-or-string: true}
              tags: {type: array, items: {type: string}}
              template:
                type: object
                required: [name]
                properties:
                  name: {type: string}
`

// serverCase is an object the real API server judges in a server-side
// apply dry-run; offline validation must reject the same fields.
type serverCase struct {
	name string
	obj  string
	// semantic are the paths the server rejects from its own code (not
	// the schema), with the NotChecked entry that must name the check.
	semantic map[string]string
	// pathless is the path offline reports for a rejection whose server
	// message names no field (a decoding error): offline must say the
	// server's message there.
	pathless string
	// wantRejected says the server rejects the object: a guard that the
	// case tests what it says (an accepted object proves no rejection).
	wantRejected bool
}

var deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        livenessProbe:
          httpGet: {path: /healthz, port: 80, httpHeaders: [{name: X-Probe, value: "1"}]}
`

// edit returns the deployment with one replacement made.
func edit(old, new string) string {
	if !strings.Contains(deployment, old) {
		panic("edit: " + old + " not in the deployment")
	}
	return strings.Replace(deployment, old, new, 1)
}

var serverCases = []serverCase{
	// Accepted by both: no false positives.
	{name: "valid deployment", obj: deployment},
	{name: "header without value", obj: edit(`{name: X-Probe, value: "1"}`, `{name: X-Probe}`)},
	{name: "empty enum value is defaulted", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        imagePullPolicy: \"\"")},
	{name: "endpoint slice without endpoints", obj: `{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: {name: e}, addressType: IPv4}`},
	{name: "valid service", obj: `{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {type: ClusterIP, selector: {app: web}, ports: [{port: 80, targetPort: http}]}}`},
	{name: "valid widget", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: small, replicas: 3, owner: team, port: http, tags: [a], template: {name: t}}}`},
	{name: "widget int-or-string as integer", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: large, port: 8080}}`},

	// Wrong types and unknown fields: structured-merge-diff on both sides.
	{name: "replicas is a string", obj: edit("replicas: 2", `replicas: "two"`), wantRejected: true},
	{name: "unknown spec field", obj: edit("replicas: 2", "replicas: 2\n  replicaz: 3"), wantRejected: true},
	{name: "unknown container field", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        imagee: nginx"), wantRejected: true},
	{name: "config map value is a number", obj: `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {a: "x", b: 1}}`, wantRejected: true},
	{name: "container without its name", obj: edit("- name: web\n        image", "- image"), wantRejected: true},
	{name: "labels is a list", obj: `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, labels: [a]}}`, wantRejected: true},

	// Enums from the schema, and the required fields the server
	// enforces.
	{name: "deployment without selector", obj: edit("  selector: {matchLabels: {app: web}}\n", ""), wantRejected: true,
		semantic: map[string]string{"spec.template.metadata.labels": "selectors matching templates"}},
	{name: "cron job without schedule", obj: `{apiVersion: batch/v1, kind: CronJob, metadata: {name: c}, spec: {jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}}`, wantRejected: true},
	{name: "pod template without containers", obj: edit("      containers:\n      - name: web\n        image: nginx:1.27\n        ports: [{containerPort: 80}]\n        livenessProbe:\n          httpGet: {path: /healthz, port: 80, httpHeaders: [{name: X-Probe, value: \"1\"}]}\n", "      hostname: web\n"), wantRejected: true},
	{name: "ingress rule without paths", obj: `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: i}, spec: {rules: [{host: a.example.com, http: {}}]}}`, wantRejected: true},
	{name: "affinity term without its term", obj: edit("    spec:\n      containers:", "    spec:\n      affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1}]}}\n      containers:"), wantRejected: true,
		// The server validates the absent term as empty: the path is below
		// what the object holds.
		semantic: map[string]string{"spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey": "required fields below an absent one"}},
	{name: "preferred node term without preference", obj: edit("    spec:\n      containers:", "    spec:\n      affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1}]}}\n      containers:")},
	{name: "probe without port", obj: edit("path: /healthz, port: 80, ", "path: /healthz, "), wantRejected: true},
	{name: "service type not in enum", obj: `{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {type: Balanced, ports: [{port: 80}]}}`, wantRejected: true},
	{name: "pull policy not in enum", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        imagePullPolicy: Sometimes"), wantRejected: true},

	// Custom objects against their CRD's schema.
	{name: "widget replicas is a string", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: small, replicas: "three"}}`, wantRejected: true},
	{name: "widget without required size", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {replicas: 1}}`, wantRejected: true},
	{name: "widget size not in enum", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: medium}}`, wantRejected: true},
	{name: "widget owner breaks pattern", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: small, owner: Team-1}}`, wantRejected: true},
	{name: "widget replicas over maximum", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: small, replicas: 11}}`, wantRejected: true},
	{name: "widget nested required and list item type", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: small, tags: [1], template: {}}}`, wantRejected: true},
	{name: "widget unknown field", obj: `{apiVersion: offline.gantry.dev/v1, kind: Widget, metadata: {name: w}, spec: {size: small, colour: red}}`, wantRejected: true},

	// Required fields the server enforces (schema/required.go).
	{name: "container without its image", obj: edit("image: nginx:1.27\n        ", ""), wantRejected: true},
	{name: "container with an empty image", obj: edit("image: nginx:1.27", `image: ""`), wantRejected: true},
	{name: "pod without containers", obj: `{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {restartPolicy: Never}}`, wantRejected: true},
	{name: "pod with an empty container list", obj: `{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}`, wantRejected: true},
	{name: "stateful set without selector", obj: `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: s}, spec: {serviceName: s, template: {metadata: {labels: {app: s}}, spec: {containers: [{name: c, image: busybox}]}}}}`, wantRejected: true,
		semantic: map[string]string{"spec.template.metadata.labels": "selectors matching templates"}},
	// The server words a daemon set's missing selector at its template.
	{name: "daemon set without selector", obj: `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: d}, spec: {template: {metadata: {labels: {app: d}}, spec: {containers: [{name: c, image: busybox}]}}}}`, wantRejected: true,
		semantic: map[string]string{"spec.template.metadata.labels": "selectors matching templates"}},
	{name: "ingress path without pathType", obj: `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: i}, spec: {rules: [{host: a.example.com, http: {paths: [{path: /, backend: {service: {name: web, port: {number: 80}}}}]}}]}}`, wantRejected: true},
	{name: "ingress path without backend", obj: `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: i}, spec: {rules: [{host: a.example.com, http: {paths: [{path: /, pathType: Prefix}]}}]}}`, wantRejected: true},
	{name: "tcp probe without port", obj: edit("httpGet: {path: /healthz, port: 80, httpHeaders: [{name: X-Probe, value: \"1\"}]}", "tcpSocket: {host: localhost}"), wantRejected: true},
	{name: "env var without name", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        env: [{value: x}]"), wantRejected: true},
	{name: "volume mount without mountPath", obj: strings.Replace(edit("      containers:", "      volumes: [{name: data, emptyDir: {}}]\n      containers:"), "image: nginx:1.27", "image: nginx:1.27\n        volumeMounts: [{name: data}]", 1), wantRejected: true},
	{name: "volume mount without name", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        volumeMounts: [{mountPath: /data}]"), wantRejected: true},
	{name: "container port without containerPort", obj: edit("ports: [{containerPort: 80}]", "ports: [{name: http}]"), wantRejected: true},
	{name: "service port without port", obj: `{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {selector: {app: web}, ports: [{targetPort: 80}]}}`, wantRejected: true},
	{name: "role rule without verbs", obj: `{apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: r}, rules: [{apiGroups: [""], resources: [pods]}]}`, wantRejected: true},
	{name: "binding subject without name", obj: `{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: b}, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}, subjects: [{kind: ServiceAccount}]}`, wantRejected: true},
	{name: "config map key ref without key", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        env: [{name: A, valueFrom: {configMapKeyRef: {name: cm}}}]"), wantRejected: true},
	{name: "affinity term without topologyKey", obj: edit("    spec:\n      containers:", "    spec:\n      affinity: {podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 1, podAffinityTerm: {labelSelector: {matchLabels: {app: web}}}}]}}\n      containers:"), wantRejected: true},
	{name: "hpa without maxReplicas", obj: `{apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, metadata: {name: h}, spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}}}`, wantRejected: true},
	// Required in the schema, accepted missing by the server: never flagged.
	{name: "network policy without podSelector", obj: `{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: np}, spec: {policyTypes: [Ingress]}}`},

	// The server's own code: offline cannot see these, and says so.
	{name: "label value syntax", obj: `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, labels: {a: "not valid!"}}}`, wantRejected: true,
		semantic: map[string]string{"metadata.labels": "label syntax"}},
	{name: "selector does not match template", obj: edit("matchLabels: {app: web}", "matchLabels: {app: api}"), wantRejected: true,
		semantic: map[string]string{"spec.template.metadata.labels": "selectors matching templates"}},
	{name: "quantity syntax", obj: edit("image: nginx:1.27", "image: nginx:1.27\n        resources: {limits: {cpu: lots}}"), wantRejected: true,
		pathless: "spec.template.spec.containers[0].resources.limits[cpu]"},
	{name: "port out of range", obj: `{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {ports: [{port: 70000}]}}`, wantRejected: true,
		semantic: map[string]string{"spec.ports[0].port": "ports and ranges", "spec.ports[0].targetPort": "ports and ranges"}},
}

// TestOfflineRejectsWhatTheServerRejects dry-runs every case on a real API
// server and validates it offline: the field paths must be the same,
// except those the case lists as the server's own semantic checks, which
// must be named in what offline validation did not check.
func TestOfflineRejectsWhatTheServerRejects(t *testing.T) {
	ctx := context.Background()
	ns := kube.Namespace(t)
	crd := parse(t, widgetCRD)
	dyn, mapper := clients(t)
	createCRD(t, dyn, mapper, crd)
	for _, tc := range serverCases {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, tc.obj)
			obj.SetNamespace(ns)
			serverPaths, rejected, err := serverVerdict(ctx, dyn, mapper, obj)
			var pathless *pathlessError
			if errors.As(err, &pathless) && tc.pathless != "" {
				serverPaths, rejected, err = []string{tc.pathless}, true, nil
				defer func() {
					if !mentionsProblem(t, obj, tc.pathless, pathless.cause) {
						t.Errorf("offline does not say the server's %q at %s", pathless.cause, tc.pathless)
					}
				}()
			}
			if err != nil {
				t.Fatal(err)
			}
			if rejected != tc.wantRejected {
				t.Fatalf("the API server rejected=%v, the case says %v (paths %v)", rejected, tc.wantRejected, serverPaths)
			}
			res, err := Validate(ctx, []*unstructured.Unstructured{obj}, Options{CRDs: []*unstructured.Unstructured{crd}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Unchecked) > 0 {
				t.Fatalf("object left unchecked: %v", res.Unchecked)
			}
			var want []string
			for _, p := range serverPaths {
				if check, ok := tc.semantic[p]; ok {
					if !mentions(res.NotChecked, check) {
						t.Errorf("server rejects %s (%s), but offline validation does not list it as not checked: %v", p, check, res.NotChecked)
					}
					continue
				}
				want = append(want, p)
			}
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.Path)
			}
			if diff := cmp.Diff(dedupe(want), dedupe(got)); diff != "" {
				t.Errorf("field paths (-server +offline):\n%s\noffline: %v", diff, res.Problems)
			}
		})
	}
}

// serverVerdict dry-runs obj with server-side apply and returns the field
// paths of the rejection.
func serverVerdict(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) ([]string, bool, error) {
	m, err := mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
	if err != nil {
		return nil, false, err
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return nil, false, err
	}
	_, err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "gantry", DryRun: []string{metav1.DryRunAll}, Force: new(true)})
	if err == nil {
		return nil, false, nil
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return nil, false, err
	}
	var paths []string
	if d := se.ErrStatus.Details; d != nil {
		for _, c := range d.Causes {
			if c.Field != "" {
				paths = append(paths, c.Field)
			}
		}
	}
	if len(paths) == 0 {
		paths = smdPaths(se.ErrStatus.Message)
	}
	if len(paths) == 0 {
		parts := strings.Split(se.ErrStatus.Message, ": ")
		return nil, true, &pathlessError{msg: se.ErrStatus.Message, cause: parts[len(parts)-1]}
	}
	return paths, true, nil
}

// smdLine is one structured-merge-diff error of the server's message.
var smdLine = regexp.MustCompile(`(?m)(?:^|: |\n\s*)(\.[^\s:]+): `)

// smdPaths reads the field paths of a typed-conversion failure, e.g.
// "failed to create typed patch object (...): .spec.replicas: expected
// numeric (int or float), got string".
func smdPaths(msg string) []string {
	var out []string
	for _, m := range smdLine.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	return out
}

// pathlessError is a rejection whose message names no field; cause is
// its last clause, the reason.
type pathlessError struct{ msg, cause string }

func (e *pathlessError) Error() string { return "rejected without a field path: " + e.msg }

// mentionsProblem says whether offline validation of obj reports the
// cause at path.
func mentionsProblem(t *testing.T, obj *unstructured.Unstructured, path, cause string) bool {
	res, err := Validate(context.Background(), []*unstructured.Unstructured{obj}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		if p.Path == path && strings.Contains(p.Message, cause) {
			return true
		}
	}
	return false
}

func mentions(list []string, s string) bool {
	for _, l := range list {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func dedupe(s []string) []string {
	sort.Strings(s)
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func parse(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("parse %q: %v", doc, err)
	}
	return &unstructured.Unstructured{Object: m}
}

func clients(t testing.TB) (dynamic.Interface, meta.ResettableRESTMapper) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(kube.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(kube.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
}

// createCRD creates the CRD for real and waits until its kind is served.
func createCRD(t testing.TB, dyn dynamic.Interface, mapper meta.ResettableRESTMapper, crd *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	m, err := mapper.RESTMapping(crd.GroupVersionKind().GroupKind(), crd.GroupVersionKind().Version)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(m.Resource).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	deadline := time.Now().Add(time.Minute)
	for {
		mapper.Reset()
		if _, err := mapper.RESTMapping(kschema.GroupKind{Group: group, Kind: kind}, "v1"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CRD %s never served", crd.GetName())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestShippedSchemasMatchTheGenerator regenerates the schema file from
// the test cluster's kube-apiserver: the committed file must be what
// `make openapi-data` writes, or it was edited by hand or left behind.
func TestShippedSchemasMatchTheGenerator(t *testing.T) {
	ver, err := kube.Client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := kube.Client.Discovery().OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := Generate(ver.GitVersion, paths)
	if err != nil {
		t.Fatal(err)
	}
	minor := ver.Major + "." + strings.TrimSuffix(ver.Minor, "+")
	gz, err := data.ReadFile("data/" + FileName(minor))
	if err != nil {
		t.Fatalf("Kubernetes %s (the test cluster's) is not shipped: run make openapi-data", minor)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("schema/data/%s differs from what the generator makes of kube-apiserver %s (%d bytes vs %d): run make openapi-data", FileName(minor), ver.GitVersion, len(got), len(want))
	}
}
