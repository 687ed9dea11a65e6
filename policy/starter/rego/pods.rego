# Rules on pod specs, wherever a kind keeps its pod template.
package starter

# template_kinds keep their pod spec at spec.template.spec; the value is
# their API group's prefix, so a custom resource of the same kind is left
# alone.
template_kinds := {
	"Deployment": "apps/",
	"StatefulSet": "apps/",
	"DaemonSet": "apps/",
	"ReplicaSet": "apps/",
	"Job": "batch/",
}

pod_spec := input.spec if {
	input.kind == "Pod"
	input.apiVersion == "v1"
}

pod_spec := input.spec.template.spec if {
	startswith(input.apiVersion, template_kinds[input.kind])
}

pod_spec := input.spec.jobTemplate.spec.template.spec if {
	input.kind == "CronJob"
	startswith(input.apiVersion, "batch/")
}

# containers are the pod's containers and init containers, each with how
# to name it in a message.
containers contains {"c": c, "label": sprintf("container %s", [c.name]), "init": false} if {
	some c in pod_spec.containers
}

containers contains {"c": c, "label": sprintf("init container %s", [c.name]), "init": true} if {
	some c in pod_spec.initContainers
}

pod_security := object.get(pod_spec, "securityContext", {})

security(c) := object.get(c, "securityContext", {})

# moving_tags name whatever was pushed last, like latest.
moving_tags := {"latest", "stable", "edge", "main", "master", "nightly", "dev", "develop", "head", "canary"}

image_tag(image) := tag if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := substring(last, indexof(last, ":") + 1, -1)
}

problems contains {"id": "image-pinned", "msg": msg} if {
	some x in containers
	not contains(x.c.image, "@sha256:")
	not image_tag(x.c.image)
	msg := sprintf("%s: image %q has no tag; pin a digest (@sha256:…) or a unique tag", [x.label, x.c.image])
}

problems contains {"id": "image-pinned", "msg": msg} if {
	some x in containers
	not contains(x.c.image, "@sha256:")
	tag := image_tag(x.c.image)
	lower(tag) in moving_tags
	msg := sprintf("%s: image %q uses the moving tag %q; pin a digest (@sha256:…) or a unique tag", [x.label, x.c.image, tag])
}

required_resources := ["requests.cpu", "requests.memory", "limits.memory"]

problems contains {"id": "resources", "msg": msg} if {
	some x in containers
	missing := [r |
		some r in required_resources
		[kind, name] := split(r, ".")
		not x.c.resources[kind][name]
	]
	count(missing) > 0
	msg := sprintf("%s: resources %s not set", [x.label, concat(", ", missing)])
}

# effective is a security setting as the kubelet sees it: the container's
# own wins over the pod's; null when neither sets it.
effective(c, field) := object.get(security(c), field, object.get(pod_security, field, null))

has_key(o, k) if _ = o[k]

problems contains {"id": "run-as-non-root", "msg": msg} if {
	some x in containers
	effective(x.c, "runAsNonRoot") != true
	msg := sprintf("%s: runAsNonRoot is not true (set it in the pod's or the container's securityContext)", [x.label])
}

problems contains {"id": "run-as-non-root", "msg": msg} if {
	some x in containers
	effective(x.c, "runAsUser") == 0
	msg := sprintf("%s: runAsUser is 0 (root)", [x.label])
}

problems contains {"id": "read-only-root-fs", "msg": msg} if {
	some x in containers
	object.get(security(x.c), "readOnlyRootFilesystem", false) != true
	msg := sprintf("%s: securityContext.readOnlyRootFilesystem is not true; mount an emptyDir where it writes", [x.label])
}

problems contains {"id": "no-privileged", "msg": msg} if {
	some x in containers
	security(x.c).privileged == true
	msg := sprintf("%s: securityContext.privileged is true", [x.label])
}

problems contains {"id": "no-privilege-escalation", "msg": msg} if {
	some x in containers
	object.get(security(x.c), "allowPrivilegeEscalation", true) != false
	msg := sprintf("%s: securityContext.allowPrivilegeEscalation is not false", [x.label])
}

problems contains {"id": "no-host-namespaces", "msg": msg} if {
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec[field] == true
	msg := sprintf("the pod sets %s: true", [field])
}

problems contains {"id": "no-host-path", "msg": msg} if {
	some v in pod_spec.volumes
	v.hostPath
	msg := sprintf("volume %s mounts the node's %s (hostPath)", [v.name, v.hostPath.path])
}

problems contains {"id": "probes", "msg": msg} if {
	input.kind in {"Deployment", "StatefulSet"}
	some x in containers
	not x.init
	missing := [p | some p in ["readinessProbe", "livenessProbe"]; not x.c[p]]
	count(missing) > 0
	msg := sprintf("%s: no %s", [x.label, concat(" and no ", missing)])
}
