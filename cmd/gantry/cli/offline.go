package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/schema"
)

// offlineApp is one app's offline validation, as -o json prints it.
type offlineApp struct {
	App       string           `json:"app"`
	Version   string           `json:"kubernetesVersion"`
	Checked   int              `json:"checked"`
	Problems  []offlineProblem `json:"problems"`
	Unchecked []string         `json:"unchecked"`
}

// offlineProblem is one schema error with the object's source.
type offlineProblem struct {
	Object  string `json:"object"`
	Source  string `json:"source,omitempty"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// diffOffline validates the rendered apps against the shipped Kubernetes
// schemas of kubeVersion (the nearest shipped one) and the CRDs any app
// renders, and prints the outcome; it reports whether an object failed.
// No cluster is contacted.
func diffOffline(ctx context.Context, w io.Writer, rs []rendered, kubeVersion string, asJSON bool) (bool, error) {
	var crds []*unstructured.Unstructured
	for _, r := range rs {
		for _, o := range r.objects {
			if o.GetKind() == "CustomResourceDefinition" && o.GroupVersionKind().Group == "apiextensions.k8s.io" {
				crds = append(crds, o)
			}
		}
	}
	var apps []offlineApp
	var notChecked []string
	failed := false
	for _, r := range rs {
		if r.err != nil {
			continue
		}
		res, err := schema.Validate(ctx, r.objects, schema.Options{KubeVersion: kubeVersion, CRDs: crds})
		if err != nil {
			return false, fmt.Errorf("validate app %s offline: %w", r.app.Name, err)
		}
		notChecked = res.NotChecked
		a := offlineApp{App: r.app.Name, Version: res.Version, Checked: res.Checked, Problems: []offlineProblem{}, Unchecked: []string{}}
		for _, p := range res.Problems {
			src, _ := r.sources.Of(p.Object)
			loc := src.File
			if src.Line > 0 {
				loc = fmt.Sprintf("%s:%d", src.File, src.Line)
			}
			a.Problems = append(a.Problems, offlineProblem{Object: strings.TrimSuffix(p.Error(), ": "+p.Message), Source: loc, Path: p.Path, Message: p.Message})
		}
		for _, u := range res.Unchecked {
			a.Unchecked = append(a.Unchecked, u.String())
		}
		failed = failed || len(a.Problems) > 0
		apps = append(apps, a)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return failed, enc.Encode(map[string]any{"apps": apps, "notChecked": notChecked})
	}
	for _, a := range apps {
		fmt.Fprintf(w, "%s: validated offline against Kubernetes %s: %d objects checked, %d schema errors\n", a.App, a.Version, a.Checked, len(a.Problems))
		for _, p := range a.Problems {
			fmt.Fprintf(w, "  %s: %s: %s\n", orUnknown(p.Source), p.Object, p.Message)
		}
		for _, u := range a.Unchecked {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if len(notChecked) > 0 {
		fmt.Fprintf(w, "Only the API server checks: %s.\n", strings.Join(notChecked, "; "))
	}
	return failed, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown source)"
	}
	return s
}
