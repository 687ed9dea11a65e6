// Package policy judges rendered Kubernetes objects with Rego: conftest
// policies and Gatekeeper ConstraintTemplates as their authors wrote them,
// and gantry's own policies, which also see the planned action, the live
// object and the pull request.
//
// # Loading
//
// Load reads each Source (a directory, or a file system shipped in the
// binary, and its Trust) recursively:
//   - *.rego files are policy modules, except *_test.rego files, which only
//     RunTests uses. The Rego version is detected per file (see RegoAuto)
//     unless the Source forces one.
//   - *.json, *.yaml, *.yml files hold Gatekeeper ConstraintTemplates and
//     constraints, other Kubernetes objects (samples, ignored), or data. A
//     data file is one object merged at data.<its directory relative to the
//     set's root>, like `opa eval -d`. Source.Data, given by the program,
//     is merged at the root beside them.
//
// Every set is compiled on its own, once, and every query is prepared once:
// a repository set cannot override a server set's rules or exceptions, and
// evaluating an object costs one prepared evaluation per package. Rego
// errors are CompileErrors naming the file, line and column (for Rego
// embedded in a ConstraintTemplate, the YAML file's line).
//
// # conftest conventions
//
// In the packages a Source lists (default "main", "*" for all), rules named
// deny, violation or warn, with _suffix variants (deny_images), produce
// findings; their input is the object itself. A rule's value is a set (or
// array) of strings or of objects with a msg, whose other fields become the
// finding's Metadata; `deny[msg] if …`, which Rego v1 makes an object of
// messages to true, is read as the set of its keys (conftest would skip it).
// `exception contains ["images"] if …` (conftest's
// exception[rules]) skips the rules whose name without its deny_, violation_
// or warn_ prefix is listed. Deletions are not judged by conftest policies,
// which judge files.
//
// Rules named excepted or excepted_* are gantry's own addition: their
// results are findings of SeverityExcepted, shown (with the reason the
// message gives) but failing nothing, for a policy whose exceptions must
// stay visible, such as the starter pack's gantry.dev/allow annotation.
// A package (conftest or gantry) that reads data.inventory sees the same
// inventory as Gatekeeper templates (below), for rules across objects.
//
// # Gatekeeper
//
// ConstraintTemplates (target admission.k8s.gatekeeper.sh, rego and libs, or
// code with engine Rego) and their constraints are evaluated with
// Gatekeeper's input: input.review.{object, oldObject, kind{group, version,
// kind}, name, namespace, operation} and input.parameters. Creates are
// CREATE; updates and unchanged objects are UPDATE with oldObject the live
// object; deletions are not judged (Gatekeeper's webhook default). The
// constraint's match (kinds, scope, namespaces, excludedNamespaces,
// labelSelector, namespaceSelector when the Namespace object is rendered or
// known live, name) selects the objects, and enforcementAction deny, warn or
// dryrun gives the Severity. Templates that read data.inventory see
// data.inventory.namespace[ns][groupVersion][kind][name] and
// data.inventory.cluster[groupVersion][kind][name]: the known live objects
// overlaid with the rendered ones, minus the ones being deleted.
//
// # Secrets
//
// A repository's policy sets (Trust Repository) see every core Secret with
// its values masked, in every input above (the conftest document,
// gantry's input.object and input.live, Gatekeeper's review objects and
// data.inventory): each key of data and stringData is kept with the value
// "(hidden)", and the last-applied annotation is "(hidden)". Such a set can
// require keys, never read or test a value. Trusted sets see the values.
// Every finding's message and metadata, and every evaluation error, of
// every set, is scrubbed of the Secret values of the input (raw, base64
// and decoded), so a policy that echoes a value publishes "(hidden)".
//
// # Gantry's own policies
//
// Packages named gantry or gantry.* are always evaluated, in every set,
// with deny/violation/warn rules as above, for every action including
// delete. Their input is:
//
//	{
//	  "object":    the rendered object (for a delete, the object deleted),
//	  "live":      the object in the cluster, or null (also for an object
//	               another app or repository owns: gantry does not read it
//	               for this app),
//	  "action":    "create" | "update" | "delete" | "unchanged",
//	  "app":       the app's name,
//	  "cluster":   the cluster's name,
//	  "namespace": the object's metadata.namespace ("" if cluster-scoped),
//	  "pr":        null outside a pull request, else {
//	    "number": 42, "author": "alice", "labels": ["scale-down"],
//	    "baseBranch": "main", "changedFiles": ["apps/web/deploy.yaml"]
//	  }
//	}
//
// For example (both are tested in context_test.go):
//
//	package gantry.prod
//
//	deny contains msg if {
//		input.action == "delete"
//		input.object.kind == "Namespace"
//		input.cluster == "prod"
//		msg := sprintf("deleting Namespace %s in prod is not allowed", [input.object.metadata.name])
//	}
//
//	deny contains msg if {
//		input.action == "update"
//		input.object.kind == "Deployment"
//		input.object.spec.replicas < input.live.spec.replicas
//		not labelled("scale-down")
//		msg := sprintf("lowering replicas of %s from %d to %d needs the scale-down label",
//			[input.object.metadata.name, input.live.spec.replicas, input.object.spec.replicas])
//	}
//
//	# Outside a pull request (pr is null) nothing is labelled.
//	labelled(l) if l in input.pr.labels
//
// # Trust and bounds
//
// Repository sets (read from the base branch, never a PR's head) cannot call
// the builtins UnsafeBuiltins lists (http.send, net.lookup_ip_addr,
// opa.runtime): a call is a compile error. Every evaluation of one set's
// package or one constraint against one object is bounded by
// Options.Timeout, and a rule may return at most Options.MaxResults
// messages; exceeding either is an EvalError that fails the check.
// numbers.range and numbers.range_step refuse to build more than 100,000
// elements, since they allocate before the time bound can stop them. Rego
// forbids recursion at compile time. OPA has no per-evaluation memory
// limit: memory is bounded only through these.
//
// # Output
//
// WriteText and WriteJSON print a Result for the CLI; RunTests runs the
// _test.rego tests like `opa test`, and WriteTestText / WriteTestJSON print
// them.
package policy
