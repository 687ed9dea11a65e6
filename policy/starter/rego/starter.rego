# The starter pack's frame: every rule adds {id, msg} to problems; here a
# problem becomes a deny, or an excepted finding when the object's
# gantry.dev/allow annotation waives its rule with a reason.
package starter

# ids are the pack's rule IDs; policy/starter's Go list must match.
ids := {
	"image-pinned",
	"resources",
	"run-as-non-root",
	"read-only-root-fs",
	"no-privileged",
	"no-privilege-escalation",
	"no-host-namespaces",
	"no-host-path",
	"probes",
	"pdb",
	"no-nodeport",
	"no-plain-secret",
	"allow-reason",
	"allow-unknown",
}

allow_annotation := "gantry.dev/allow"

# Settings, given by the server as data.starterpack (see policy/starter).
default exclude := []

exclude := data.starterpack.exclude

default allow_node_port := false

allow_node_port := data.starterpack.allowNodePort

excluded(id) if id in exclude

deny contains {"msg": sprintf("[%s] %s", [p.id, p.msg]), "id": p.id} if {
	some p in problems
	not excluded(p.id)
	not waiver(p.id)
}

excepted contains {"msg": sprintf("[%s] %s (excepted: %s)", [p.id, p.msg, reason]), "id": p.id, "reason": reason} if {
	some p in problems
	not excluded(p.id)
	reason := waiver(p.id)
}

# allow_entries are the annotation's lines, "<rule-id>: <reason>", one per
# line; blank lines are ignored.
allow_entries contains {"id": id, "reason": reason} if {
	some line in split(input.metadata.annotations[allow_annotation], "\n")
	l := trim_space(line)
	l != ""
	[id, reason] := split_entry(l)
}

split_entry(l) := [trim_space(substring(l, 0, i)), trim_space(substring(l, i + 1, -1))] if {
	i := indexof(l, ":")
	i >= 0
}

split_entry(l) := [l, ""] if indexof(l, ":") < 0

# waiver is the reason an annotation gives to waive a rule; several
# entries for one rule are joined. allow-reason cannot be waived: that
# would let one entry excuse every other entry's missing reason.
waiver(id) := concat("; ", sort(reasons)) if {
	id != "allow-reason"
	reasons := {e.reason | some e in allow_entries; e.id == id; e.reason != ""}
	count(reasons) > 0
}

# An exception must say why: without a reason it waives nothing and is
# itself denied.
problems contains {"id": "allow-reason", "msg": msg} if {
	some e in allow_entries
	e.reason == ""
	msg := sprintf("the %s annotation waives %q without a reason; write \"%s: <why>\"", [allow_annotation, e.id, e.id])
}

warn contains {"msg": sprintf("[allow-unknown] the %s annotation names %q, which is not a starter-pack rule", [allow_annotation, e.id]), "id": "allow-unknown"} if {
	some e in allow_entries
	not e.id in ids
	not excluded("allow-unknown")
}
