package config

import (
	"errors"
	"testing"
)

func TestScope(t *testing.T) {
	srv := &Server{Repositories: []RepositoryGrant{
		{Match: []string{"acme/*"}, Clusters: []string{"dev"}, Namespaces: []string{"web-*"}},
		{Match: []string{"Acme/Platform"}, Clusters: []string{"*"}, Namespaces: []string{"kube-system"},
			Kinds: []string{"ConfigMap", "*.apps"}, ClusterKinds: []string{"Namespace"}},
	}}
	tests := []struct {
		name, repo                               string
		cluster, group, kind, namespace, objName string
		want                                     string // "" allowed, else the ScopeError's What
	}{
		{"granted namespace and any kind", "acme/web", "dev", "apps", "Deployment", "web-a", "x", ""},
		{"namespace outside the glob", "acme/web", "dev", "", "ConfigMap", "default", "x", "namespace default"},
		{"cluster not granted", "acme/web", "prod", "", "ConfigMap", "web-a", "x", "namespace web-a"},
		{"cluster-scoped kind not granted", "acme/web", "dev", "rbac.authorization.k8s.io", "ClusterRole", "", "admin", "cluster-scoped kind ClusterRole.rbac.authorization.k8s.io"},
		{"repository no grant matches", "evil/repo", "dev", "", "ConfigMap", "web-a", "x", "namespace web-a"},
		{"owner glob is case-insensitive", "ACME/web", "dev", "", "ConfigMap", "web-a", "x", ""},
		{"kinds limit that grant", "acme/platform", "prod", "", "Secret", "kube-system", "x", "kind Secret in namespace kube-system"},
		{"kinds glob on group", "acme/platform", "prod", "apps", "DaemonSet", "kube-system", "x", ""},
		{"granted cluster kind", "acme/platform", "prod", "", "Namespace", "", "web", ""},
		{"grants add up", "acme/platform", "dev", "", "Secret", "web-b", "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := srv.ScopeOf(tt.repo).CheckObject(tt.cluster, tt.group, tt.kind, tt.namespace, tt.objName)
			var se *ScopeError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (!errors.As(err, &se) || se.What != tt.want):
				t.Fatalf("got %v, want a refusal of %q", err, tt.want)
			}
		})
	}
	app := App{Name: "web", Cluster: "prod", Namespace: "web-a"}
	if err := srv.ScopeOf("acme/web").CheckApp(app); err == nil || err.Error() != "cluster prod is not granted to acme/web by the server configuration (repositories:)" {
		t.Errorf("CheckApp on an ungranted cluster: %v", err)
	}
	app.Cluster = "dev"
	if err := srv.ScopeOf("acme/web").CheckApp(app); err != nil {
		t.Errorf("CheckApp on a granted app: %v", err)
	}
	if err := (&Server{}).ScopeOf("acme/web").CheckApp(app); err == nil {
		t.Error("a configuration without grants lets a repository reach a cluster")
	}
	// An app that targets no cluster reaches none: no grant is needed.
	if err := (&Server{}).ScopeOf("acme/web").CheckApp(App{Name: "lib", Cluster: NoCluster, Namespace: "web-a"}); err != nil {
		t.Errorf("CheckApp on an app that targets no cluster: %v", err)
	}
}
