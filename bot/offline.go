package bot

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/schema"
)

// offlineNoCluster is the reason an app that targets no cluster is
// validated offline.
const offlineNoCluster = "the app targets no cluster (cluster: none)"

// validateOffline validates the apps that could not be diffed (no
// cluster, or an unreachable one) against the shipped Kubernetes schemas
// of their cluster's version, and against the CustomResourceDefinitions
// every app of the run renders.
func (p *Pipeline) validateOffline(ctx context.Context, results []appResult) {
	var crds []*unstructured.Unstructured
	for _, r := range results {
		for _, o := range r.objects {
			if o.GetKind() == "CustomResourceDefinition" && o.GroupVersionKind().Group == "apiextensions.k8s.io" {
				crds = append(crds, o)
			}
		}
	}
	for i := range results {
		r := &results[i]
		if r.offline == "" || r.err != nil {
			continue
		}
		r.validation, r.err = schema.Validate(ctx, r.objects, schema.Options{KubeVersion: p.kubeVersion(r.app), CRDs: crds})
	}
}

// kubeVersion is the Kubernetes version an app targets: its cluster's
// kubeVersion in the server configuration, else the app's Helm one; ""
// validates against the newest shipped.
func (p *Pipeline) kubeVersion(app config.App) string {
	if c, ok := p.Config.Cluster(app.Cluster); ok && c.KubeVersion != "" {
		return c.KubeVersion
	}
	if app.Helm != nil {
		return app.Helm.KubeVersion
	}
	return ""
}

// offlineApp reports an app validated offline: what it was validated
// against and why, each schema error at its object's source line, and
// what could not be checked. It claims no diff.
func (r appResult) offlineApp(a report.App) report.App {
	v := r.validation
	a.Offline = &report.Offline{Version: v.Version, Reason: r.offline, Unreachable: r.offline != offlineNoCluster,
		Checked: v.Checked, NotChecked: v.NotChecked}
	if !v.Exact && v.Target != "" {
		a.Offline.Target = v.Target
	}
	for _, u := range v.Unchecked {
		a.Offline.Unchecked = append(a.Offline.Unchecked, u.String())
	}
	for _, pr := range v.Problems {
		src, _ := r.sources.Of(pr.Object)
		a.Objects = append(a.Objects, report.Object{APIVersion: pr.Object.GetAPIVersion(), Kind: pr.Object.GetKind(),
			Namespace: pr.Object.GetNamespace(), Name: pr.Object.GetName(), Action: report.Create,
			Error: &report.Problem{Message: pr.Message, File: src.File, Line: src.Line}})
	}
	return a
}
