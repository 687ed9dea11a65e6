package cluster

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// A diff costs one server-side dry-run per rendered object, so a PR that
// changes one object of a large app would pay for the whole app. The
// dry-run is skipped where its outcome is known: the object is the one
// gantry last applied (same AppliedAnnotation hash, computed by plan for
// diff and apply alike, after the ignore rules), gantry's apply is the
// newest write to it, and the live object still holds every field gantry
// sets. Applying it is then a no-op (apply skips it on the same grounds,
// see upToDate), so the dry-run's result would equal the live object and
// the diff says unchanged without asking. Anything else (another
// manager's later write, a deleted object, an object gantry never applied
// or applied from an older render) is dry-run as before.

// dryRunSkippable reports whether the dry-run of p may be skipped because
// applying it provably changes nothing. For a Secret the decision must not
// depend on its values (a pull request could otherwise test a guessed
// value by whether the diff takes another path): its hash is of the
// masked object (see stamp) and only its keys are compared, which the
// diff, comparing masked Secrets, shows no more of than a dry-run would.
func dryRunSkippable(p *planned) bool {
	if p.live == nil || p.mapping == nil || p.err != nil || p.conflict != "" || p.pending != "" {
		return false
	}
	if isSecret(p.ref) {
		return upToDate(maskSecret(foldStringData(p.desired)), maskSecret(p.live))
	}
	return upToDate(p.desired, p.live)
}

// stampedForm is the form of a desired object that AppliedAnnotation
// hashes: the object itself, and for a Secret the object with every value
// masked, so the hash, which anyone who reads the object sees, says
// nothing of a value, and the diff can compare it without the values.
func stampedForm(u *unstructured.Unstructured) *unstructured.Unstructured {
	if isSecret(RefOf(u)) {
		return maskSecret(foldStringData(u))
	}
	return u
}
