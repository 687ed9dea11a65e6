package config

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// The previews defaults.
const (
	// DefaultPreviewLabel is the pull request label that asks for a
	// preview of the apps the pull request changes.
	DefaultPreviewLabel = "gantry/preview"
	// DefaultPreviewsPerRepository bounds the previews one repository
	// keeps at once, over every cluster.
	DefaultPreviewsPerRepository = 5
	// DefaultPreviewMaxObjects bounds the objects of one app's preview.
	DefaultPreviewMaxObjects = 200
	// DefaultPreviewTTL deletes a preview this long after the last push
	// (or command) that updated it.
	DefaultPreviewTTL = 72 * time.Hour
	// DefaultPreviewPodSecurity is the Pod Security level enforced in a
	// preview namespace.
	DefaultPreviewPodSecurity = "baseline"
)

// DefaultPreviewQuota is the ResourceQuota of a preview namespace when
// the server sets none: a few small pods, and no LoadBalancer or NodePort
// Service, which would take addresses and ports outside the namespace.
var DefaultPreviewQuota = map[string]string{
	"pods": "20", "requests.cpu": "2", "requests.memory": "4Gi", "limits.cpu": "4", "limits.memory": "8Gi",
	"persistentvolumeclaims": "4", "requests.storage": "20Gi", "services.loadbalancers": "0", "services.nodeports": "0",
}

// DefaultPreviewLimits are the container defaults of a preview namespace's
// LimitRange when the server sets none, so pods that ask for nothing fit
// the quota.
var DefaultPreviewLimits = PreviewLimits{
	DefaultRequest: map[string]string{"cpu": "50m", "memory": "64Mi"},
	Default:        map[string]string{"cpu": "500m", "memory": "512Mi"},
}

// Previews lets `/gantry preview` (or a label) apply a pull request's head
// of its apps into a namespace of its own per pull request and app, within
// the quotas set here. Off by default.
type Previews struct {
	// Enabled turns previews on.
	Enabled bool `yaml:"enabled"`
	// Clusters are globs of the clusters previews may run in: an app's
	// preview runs in the app's cluster, when it matches. Required when
	// enabled.
	Clusters []string `yaml:"clusters"`
	// Label is the pull request label that asks for a preview of the apps
	// the pull request changes; removing it deletes them. Default:
	// DefaultPreviewLabel.
	Label string `yaml:"label"`
	// MaxPerRepository bounds the previews (one per pull request and app)
	// a repository keeps at once. Default: DefaultPreviewsPerRepository.
	MaxPerRepository int `yaml:"maxPerRepository"`
	// MaxObjects bounds the objects of one app's preview. Default:
	// DefaultPreviewMaxObjects.
	MaxObjects int `yaml:"maxObjects"`
	// TTL deletes a preview this long after the push or command that last
	// updated it. Default: DefaultPreviewTTL.
	TTL Duration `yaml:"ttl"`
	// Quota is the spec.hard of the ResourceQuota put in every preview
	// namespace. Default: DefaultPreviewQuota.
	Quota map[string]string `yaml:"quota"`
	// Limits are the container defaults of the preview namespace's
	// LimitRange. Default: DefaultPreviewLimits.
	Limits PreviewLimits `yaml:"limits"`
	// PodSecurity is the Pod Security Standard enforced in preview
	// namespaces: restricted, baseline or privileged. Default:
	// DefaultPreviewPodSecurity.
	PodSecurity string `yaml:"podSecurity"`
	// ClusterRoles are the ClusterRoles a RoleBinding of a preview may
	// bind inside its namespace. Default: none.
	ClusterRoles []string `yaml:"clusterRoles"`
	// IngressDomain hosts previews' Ingress hosts as
	// "<label>-<namespace>.<domain>". Empty: Ingresses are refused.
	IngressDomain string `yaml:"ingressDomain"`
	// SkipClusterScoped leaves an app's cluster-scoped objects out of its
	// preview, said in the comment, instead of refusing the preview.
	SkipClusterScoped bool `yaml:"skipClusterScoped"`
}

// PreviewLimits are a LimitRange's container defaults.
type PreviewLimits struct {
	// DefaultRequest is each container's request when it sets none.
	DefaultRequest map[string]string `yaml:"defaultRequest"`
	// Default is each container's limit when it sets none.
	Default map[string]string `yaml:"default"`
}

var podSecurityLevels = []string{"restricted", "baseline", "privileged"}

func validatePreviews(d *decoder, s *Server) {
	p := s.Previews
	if p.Enabled && len(p.Clusters) == 0 {
		d.errAt("previews.clusters", "previews are enabled but no cluster may hold them: name at least one")
	}
	for i, c := range p.Clusters {
		if !hasGlobMeta(c) && s.cluster(c) == nil {
			d.errAt(fmt.Sprintf("previews.clusters[%d]", i), "no cluster %q is configured%s", c, DidYouMean(c, clusterNames(s)))
		}
	}
	if p.MaxPerRepository < 0 {
		d.errAt("previews.maxPerRepository", "%d is negative", p.MaxPerRepository)
	}
	if p.MaxObjects < 0 {
		d.errAt("previews.maxObjects", "%d is negative", p.MaxObjects)
	}
	oneOf(d, "previews.podSecurity", p.PodSecurity, podSecurityLevels)
	quantities := func(field string, m map[string]string) {
		for k, v := range m {
			if _, err := resource.ParseQuantity(v); err != nil {
				d.errAt(field, "%s: %q is not a quantity", k, v)
			}
		}
	}
	quantities("previews.quota", p.Quota)
	quantities("previews.limits.defaultRequest", p.Limits.DefaultRequest)
	quantities("previews.limits.default", p.Limits.Default)
}

func hasGlobMeta(s string) bool {
	for _, r := range s {
		if r == '*' || r == '?' || r == '[' {
			return true
		}
	}
	return false
}

func clusterNames(s *Server) []string {
	out := make([]string, len(s.Clusters))
	for i, c := range s.Clusters {
		out[i] = c.Name
	}
	return out
}

// defaultPreviews fills in the previews defaults.
func (s *Server) defaultPreviews() {
	p := &s.Previews
	if p.Label == "" {
		p.Label = DefaultPreviewLabel
	}
	if p.MaxPerRepository == 0 {
		p.MaxPerRepository = DefaultPreviewsPerRepository
	}
	if p.MaxObjects == 0 {
		p.MaxObjects = DefaultPreviewMaxObjects
	}
	if p.TTL == 0 {
		p.TTL = Duration(DefaultPreviewTTL)
	}
	if p.Quota == nil {
		p.Quota = DefaultPreviewQuota
	}
	if p.Limits.DefaultRequest == nil && p.Limits.Default == nil {
		p.Limits = DefaultPreviewLimits
	}
	if p.PodSecurity == "" {
		p.PodSecurity = DefaultPreviewPodSecurity
	}
}

// PreviewCluster reports whether previews may run in cluster.
func (p Previews) PreviewCluster(cluster string) bool {
	return p.Enabled && globAny(p.Clusters, cluster, false)
}
