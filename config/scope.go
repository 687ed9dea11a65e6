package config

import (
	"fmt"
	"strings"
)

// Scope is what one repository may reach: the union of the grants that
// match it. The zero Scope reaches nothing.
type Scope struct {
	// Repository is the "owner/name" the scope was made for.
	Repository string
	grants     []RepositoryGrant
}

// ScopeOf returns the scope the server configuration grants repository
// ("owner/name").
func (s *Server) ScopeOf(repository string) Scope {
	sc := Scope{Repository: repository}
	for _, g := range s.Repositories {
		if globAny(g.Match, strings.ToLower(repository), true) {
			sc.grants = append(sc.grants, g)
		}
	}
	return sc
}

// ScopeError says what a repository tried to reach beyond its grant.
type ScopeError struct {
	Repository string
	What       string // "cluster prod", "namespace kube-system", "kind ClusterRole.rbac.authorization.k8s.io"
	Object     string // the object, "" for an app's own settings
}

func (e *ScopeError) Error() string {
	who := e.Repository
	if e.Object != "" {
		return fmt.Sprintf("%s: %s is not granted to %s by the server configuration (repositories:)", e.Object, e.What, who)
	}
	return fmt.Sprintf("%s is not granted to %s by the server configuration (repositories:)", e.What, who)
}

// CheckApp checks an app's cluster and default namespace. An app that
// targets no cluster (NoCluster) reaches none, so every repository may
// have one.
func (sc Scope) CheckApp(app App) error {
	if app.Cluster == NoCluster {
		return nil
	}
	if !sc.any(func(g RepositoryGrant) bool { return globAny(g.Clusters, app.Cluster, false) }) {
		return &ScopeError{Repository: sc.Repository, What: "cluster " + app.Cluster}
	}
	if app.Namespace != "" && !sc.any(func(g RepositoryGrant) bool {
		return globAny(g.Clusters, app.Cluster, false) && globAny(g.Namespaces, app.Namespace, false)
	}) {
		return &ScopeError{Repository: sc.Repository, What: "namespace " + app.Namespace}
	}
	return nil
}

// CheckObject checks one rendered object of an app in cluster: its kind
// (group "" is the core group) and, for a namespaced object, its
// namespace. namespace "" means the object is cluster-scoped.
func (sc Scope) CheckObject(cluster, group, kind, namespace, name string) error {
	gk := kind
	if group != "" {
		gk = kind + "." + group
	}
	obj := gk + " " + name
	if namespace != "" {
		obj = gk + " " + namespace + "/" + name
	}
	inCluster := func(g RepositoryGrant) bool { return globAny(g.Clusters, cluster, false) }
	if namespace == "" {
		if !sc.any(func(g RepositoryGrant) bool { return inCluster(g) && globAny(g.ClusterKinds, gk, false) }) {
			return &ScopeError{Repository: sc.Repository, What: "cluster-scoped kind " + gk, Object: obj}
		}
		return nil
	}
	if !sc.any(func(g RepositoryGrant) bool { return inCluster(g) && globAny(g.Namespaces, namespace, false) }) {
		return &ScopeError{Repository: sc.Repository, What: "namespace " + namespace, Object: obj}
	}
	if !sc.any(func(g RepositoryGrant) bool {
		return inCluster(g) && globAny(g.Namespaces, namespace, false) && (len(g.Kinds) == 0 || globAny(g.Kinds, gk, false))
	}) {
		return &ScopeError{Repository: sc.Repository, What: "kind " + gk + " in namespace " + namespace, Object: obj}
	}
	return nil
}

func (sc Scope) any(ok func(RepositoryGrant) bool) bool {
	for _, g := range sc.grants {
		if ok(g) {
			return true
		}
	}
	return false
}
