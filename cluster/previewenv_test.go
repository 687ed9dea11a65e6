package cluster

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPreviewIdentityMustAgree: a namespace is a preview's only when its
// labels and its repository annotation agree; a label copied onto another
// repository's namespace, or a hand-made one, is no one's preview.
func TestPreviewIdentityMustAgree(t *testing.T) {
	good := func() *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gantry-pr-3-web-x",
			Labels:      map[string]string{PreviewLabel: "true", PreviewPRLabel: "3", PreviewAppLabel: "web", RepositoryLabel: RepositoryHash("acme/ops")},
			Annotations: map[string]string{RepositoryAnnotation: "acme/ops", PreviewHeadAnnotation: "abc", PreviewUpdatedAnnotation: "2026-11-29T10:00:00Z"}}}
	}
	tests := []struct {
		name   string
		change func(*corev1.Namespace)
		ok     bool
	}{
		{"agreeing", func(*corev1.Namespace) {}, true},
		{"not marked a preview", func(n *corev1.Namespace) { delete(n.Labels, PreviewLabel) }, false},
		{"hash of another repository", func(n *corev1.Namespace) { n.Labels[RepositoryLabel] = RepositoryHash("acme/other") }, false},
		{"annotation of another repository", func(n *corev1.Namespace) { n.Annotations[RepositoryAnnotation] = "evil/ops" }, false},
		{"no repository", func(n *corev1.Namespace) { delete(n.Annotations, RepositoryAnnotation) }, false},
		{"pull request not a number", func(n *corev1.Namespace) { n.Labels[PreviewPRLabel] = "3a" }, false},
		{"pull request zero", func(n *corev1.Namespace) { n.Labels[PreviewPRLabel] = "0" }, false},
		{"no app", func(n *corev1.Namespace) { delete(n.Labels, PreviewAppLabel) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := good()
			tt.change(n)
			p, ok := previewOf(n)
			if ok != tt.ok {
				t.Fatalf("previewOf = %+v, %v; want ok %v", p, ok, tt.ok)
			}
			if ok && (p.Repository != "acme/ops" || p.PR != 3 || p.App != "web" || p.Head != "abc" || p.Updated.IsZero()) {
				t.Errorf("previewOf = %+v", p)
			}
		})
	}
}
