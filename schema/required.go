package schema

import "k8s.io/apimachinery/pkg/util/validation/field"

// serverRequired are the fields of built-in models that the API server's
// own validation rejects when they are missing, null, empty strings or
// empty lists, by model. The schemas' required lists are not used: OpenAPI
// marks a field required when its Go field has no omitempty, and the
// server accepts some of those missing (an HTTP header's value, a
// NetworkPolicy's podSelector) or words the error at another path (a
// DaemonSet's selector). Every entry is a case of
// TestOfflineRejectsWhatTheServerRejects, which the real API server
// rejects at the same path.
var serverRequired = map[string][]string{
	"io.k8s.api.core.v1.Container":                          {"name", "image"},
	"io.k8s.api.core.v1.PodSpec":                            {"containers"},
	"io.k8s.api.core.v1.EnvVar":                             {"name"},
	"io.k8s.api.core.v1.ConfigMapKeySelector":               {"key"},
	"io.k8s.api.core.v1.VolumeMount":                        {"name", "mountPath"},
	"io.k8s.api.core.v1.ContainerPort":                      {"containerPort"},
	"io.k8s.api.core.v1.HTTPGetAction":                      {"port"},
	"io.k8s.api.core.v1.TCPSocketAction":                    {"port"},
	"io.k8s.api.core.v1.PodAffinityTerm":                    {"topologyKey"},
	"io.k8s.api.core.v1.ServicePort":                        {"port"},
	"io.k8s.api.apps.v1.DeploymentSpec":                     {"selector"},
	"io.k8s.api.apps.v1.StatefulSetSpec":                    {"selector"},
	"io.k8s.api.batch.v1.CronJobSpec":                       {"schedule"},
	"io.k8s.api.networking.v1.HTTPIngressRuleValue":         {"paths"},
	"io.k8s.api.networking.v1.HTTPIngressPath":              {"pathType", "backend"},
	"io.k8s.api.rbac.v1.PolicyRule":                         {"verbs"},
	"io.k8s.api.rbac.v1.Subject":                            {"name"},
	"io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": {"maxReplicas"},
}

// missingRequired returns the server-enforced fields of model absent from
// obj, at p.
func missingRequired(model string, obj map[string]any, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range serverRequired[model] {
		if isUnset(obj[f]) {
			errs = append(errs, field.Required(p.Child(f), ""))
		}
	}
	return errs
}

// isUnset says whether a decoded value is missing as the server sees it.
func isUnset(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case []any:
		return len(t) == 0
	}
	return false
}
