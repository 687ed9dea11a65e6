# Rules that look beyond pod specs: disruption budgets, Services, Secrets.
package starter

# replicated_kinds run several identical pods that a node drain could take
# down together.
replicated_kinds := {"Deployment", "StatefulSet", "ReplicaSet"}

problems contains {"id": "pdb", "msg": msg} if {
	input.kind in replicated_kinds
	startswith(input.apiVersion, "apps/")
	input.spec.replicas > 1
	labels := object.get(input.spec.template, ["metadata", "labels"], {})
	not covered(labels)
	msg := sprintf("%s %s runs %d replicas and no PodDisruptionBudget in its namespace selects its pods", [input.kind, input.metadata.name, input.spec.replicas])
}

# covered: a PodDisruptionBudget of the object's namespace, rendered or
# live (data.inventory), selects the pods. The budgets are walked here
# rather than collected into a set: hashing every budget per evaluation
# costs more than the match.
covered(labels) if {
	some budgets in pdbs_by_version
	some pdb in budgets
	selects(object.get(pdb.spec, "selector", {}), labels)
}

# pdbs_by_version[gv] are the budgets of the object's namespace by name,
# per policy/* version; objects rendered without a namespace are filed as
# cluster-scoped.
pdbs_by_version[gv] := kinds.PodDisruptionBudget if {
	ns := object.get(input.metadata, "namespace", "")
	ns != ""
	some gv, kinds in data.inventory.namespace[ns]
	startswith(gv, "policy/")
}

pdbs_by_version[gv] := kinds.PodDisruptionBudget if {
	object.get(input.metadata, "namespace", "") == ""
	some gv, kinds in data.inventory.cluster
	startswith(gv, "policy/")
}

# selects is a label selector's match; policy/v1's empty selector selects
# every pod of the namespace.
selects(sel, labels) if {
	every k, v in object.get(sel, "matchLabels", {}) {
		labels[k] == v
	}
	every e in object.get(sel, "matchExpressions", []) {
		expression(e, labels)
	}
}

expression(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in e.values
}

expression(e, labels) if {
	e.operator == "Exists"
	_ = labels[e.key]
}

expression(e, labels) if {
	e.operator == "DoesNotExist"
	not has_key(labels, e.key)
}

problems contains {"id": "no-nodeport", "msg": msg} if {
	input.kind == "Service"
	input.apiVersion == "v1"
	input.spec.type == "NodePort"
	not allow_node_port
	msg := sprintf("Service %s is of type NodePort, which opens its port on every node", [input.metadata.name])
}

# A Secret in Git is readable by whoever reads the repository: base64 is
# no encryption. A SOPS-encrypted file (a top-level sops key) is not plain.
problems contains {"id": "no-plain-secret", "msg": msg} if {
	input.kind == "Secret"
	input.apiVersion == "v1"
	not input.sops
	keys := {k | some k, _ in object.get(input, "data", {})} | {k | some k, _ in object.get(input, "stringData", {})}
	count(keys) > 0
	msg := sprintf("Secret %s holds %d keys in plain text in Git; encrypt it (SOPS) or create it outside Git", [input.metadata.name, count(keys)])
}
