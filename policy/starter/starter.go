// Package starter is gantry's starter policy pack: Rego rules shipped in
// the binary that hold Kubernetes workloads to common production practice
// (pinned images, resources, non-root, read-only root filesystems, no
// host access, probes, disruption budgets, no NodePorts, no plain Secrets
// in Git). It is loaded as one more policy set and runs through the same
// engine as the server's and the repositories' policies. README.md
// documents each rule and the exception annotation.
package starter

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/policy"
)

//go:embed rego
var files embed.FS

// FS holds the pack's Rego modules and their _test.rego tests.
func FS() fs.FS {
	sub, err := fs.Sub(files, "rego")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// SetName is the pack's policy set name, shown in findings; the server
// configuration reserves it.
const SetName = config.StarterPackSet

// Package is the Rego package of the pack's rules: a finding's rule is
// starter.deny, starter.warn or starter.excepted, and its message starts
// with the rule ID in brackets.
const Package = "starter"

// AllowAnnotation waives rules on the object that carries it: one
// "<rule-id>: <reason>" per line.
const AllowAnnotation = "gantry.dev/allow"

// Rule is one rule of the pack.
type Rule struct {
	// ID is stable: it names the rule in messages, in the allow annotation
	// and in Settings.Exclude.
	ID string
	// Summary says what the rule requires, in one line.
	Summary string
}

// Rules are the pack's rules, in the order README.md documents them.
var Rules = []Rule{
	{"image-pinned", "every container image is pinned by digest or a unique tag (not latest or another moving tag, not untagged)"},
	{"resources", "every container and init container sets requests.cpu, requests.memory and limits.memory"},
	{"run-as-non-root", "every container runs with runAsNonRoot: true and not as uid 0"},
	{"read-only-root-fs", "every container sets readOnlyRootFilesystem: true"},
	{"no-privileged", "no container is privileged"},
	{"no-privilege-escalation", "every container sets allowPrivilegeEscalation: false"},
	{"no-host-namespaces", "no pod uses hostNetwork, hostPID or hostIPC"},
	{"no-host-path", "no pod mounts a hostPath volume"},
	{"probes", "every container of a Deployment or StatefulSet has a readiness and a liveness probe"},
	{"pdb", "a Deployment, StatefulSet or ReplicaSet with more than one replica has a PodDisruptionBudget selecting its pods"},
	{"no-nodeport", "no Service is of type NodePort (unless starterPack.allowNodePort or --starter-allow-nodeport)"},
	{"no-plain-secret", "no Secret with data or stringData is kept in Git unencrypted"},
	{"allow-reason", "every entry of the gantry.dev/allow annotation gives a reason"},
	{"allow-unknown", "the gantry.dev/allow annotation names only the pack's rules (a warning)"},
}

// Settings tune the pack for a server or a CLI run.
type Settings struct {
	// AllowNodePort turns the no-nodeport rule off.
	AllowNodePort bool
	// Exclude lists rule IDs that are not evaluated at all.
	Exclude []string
}

// Source returns the pack as a trusted policy set with the settings as its
// data (data.starterpack). An unknown rule ID in Exclude is an error, so a
// typo does not silently keep a rule on.
func Source(s Settings) (policy.Source, error) {
	exclude := []any{}
	for _, id := range s.Exclude {
		if !Known(id) {
			return policy.Source{}, fmt.Errorf("starter pack: exclude: %q is not a rule (rules: %s)", id, strings.Join(IDs(), ", "))
		}
		exclude = append(exclude, id)
	}
	return policy.Source{
		Name:        SetName,
		FS:          FS(),
		Prefix:      SetName,
		Trust:       policy.Trusted,
		Namespaces:  []string{Package},
		RegoVersion: policy.RegoV1,
		Data: map[string]any{"starterpack": map[string]any{
			"allowNodePort": s.AllowNodePort,
			"exclude":       exclude,
		}},
	}, nil
}

// IDs lists the rule IDs.
func IDs() []string {
	out := make([]string, len(Rules))
	for i, r := range Rules {
		out[i] = r.ID
	}
	return out
}

// Known reports whether id is one of the pack's rules.
func Known(id string) bool {
	return slices.ContainsFunc(Rules, func(r Rule) bool { return r.ID == id })
}
