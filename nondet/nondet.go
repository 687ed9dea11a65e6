// Package nondet is the contract between render, which finds the fields of
// a Helm chart's objects that differ from one render of the same inputs to
// the next (generated passwords, certificates, timestamps), and cluster,
// which keeps their live values until the chart's inputs change: the
// annotations that carry those fields, and what gantry did with each.
package nondet

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

const (
	// FieldsAnnotation lists, as a JSON array of RFC 6901 pointers, the
	// fields of a rendered object that are not deterministic. render sets
	// it (and removes any a chart, manifest or patch wrote); cluster reads
	// and removes it before a diff, an apply or a drift check, so it never
	// reaches the API server.
	FieldsAnnotation = "gantry.dev/nondeterministic"
	// InputsAnnotation is the digest ("sha256:…") of the chart's inputs
	// (files, resolved values, release name and namespace, Kubernetes
	// version and API versions) on an object with fields that are not
	// deterministic. It is applied with the object, so the live object
	// says which inputs produced its values.
	InputsAnnotation = "gantry.dev/chart-inputs"
)

// Outcome is what gantry did with one field that is not deterministic.
type Outcome string

// The outcomes.
const (
	// KeptLive: the desired object took the live value, because the
	// chart's inputs are those that produced it (or the live object does
	// not record its inputs: it predates gantry's record, and a working
	// value is never replaced on a guess).
	KeptLive Outcome = "kept"
	// InputsChanged: the new render's value is applied, because the
	// chart's inputs changed since the live value was produced.
	InputsChanged Outcome = "inputs-changed"
	// LiveLacks: the live object has no such field; the render's value is
	// applied.
	LiveLacks Outcome = "live-lacks"
	// NewObject: the object does not exist yet; it is created as rendered.
	NewObject Outcome = "new-object"
	// GeneratedName: the object's name (or its presence) differs between
	// renders, so it cannot be matched with a live object: every apply
	// creates another one. Its field is ".metadata.name".
	GeneratedName Outcome = "generated-name"
)

// Field is one field that is not deterministic, with what gantry did.
type Field struct {
	// Path is the field as ".data.password" or
	// `.metadata.annotations["checksum/random"]`; names only, never a value.
	Path string `json:"path"`
	// SecretKey is the key of a Secret's data or stringData field, the
	// only thing a report shows of it.
	SecretKey string  `json:"secretKey,omitempty"`
	Outcome   Outcome `json:"outcome"`
}

// Decide says what happens to a field that is not deterministic, from the
// live object's existence, whether it has the field, and the digests of
// the inputs that produced the live and the rendered object.
func Decide(liveExists, liveHasField bool, liveInputs, renderInputs string) Outcome {
	switch {
	case !liveExists:
		return NewObject
	case !liveHasField:
		return LiveLacks
	case liveInputs != "" && liveInputs != renderInputs:
		return InputsChanged
	}
	return KeptLive
}

// Pointer formats pointer tokens as an RFC 6901 JSON pointer.
func Pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// ParsePointer splits an RFC 6901 JSON pointer into its tokens.
func ParsePointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("pointer %q does not start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// Encode formats the fields' tokens as FieldsAnnotation's value, sorted.
func Encode(fields [][]string) string {
	ptrs := make([]string, len(fields))
	for i, f := range fields {
		ptrs[i] = Pointer(f)
	}
	sort.Strings(ptrs)
	b, _ := json.Marshal(ptrs) // a []string always marshals
	return string(b)
}

// Decode parses FieldsAnnotation's value into pointer tokens.
func Decode(s string) ([][]string, error) {
	var ptrs []string
	if err := json.Unmarshal([]byte(s), &ptrs); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", FieldsAnnotation, err)
	}
	out := make([][]string, 0, len(ptrs))
	for _, p := range ptrs {
		t, err := ParsePointer(p)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", FieldsAnnotation, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// Lookup returns the value at tokens in a decoded object: a map's key or
// a list's index per token; false when the path leads nowhere.
func Lookup(obj any, tokens []string) (any, bool) {
	cur := obj
	for _, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// Display formats tokens for people, walking obj to tell list indexes
// from map keys: ".data.password", ".spec.containers[0].env[1].value",
// `.metadata.annotations["checksum/random"]` (a key that is not a plain
// name is quoted, so no key can pass for a path of another shape).
func Display(obj map[string]any, tokens []string) string {
	var b strings.Builder
	var cur any = obj
	for _, t := range tokens {
		if l, ok := cur.([]any); ok {
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(l) {
				fmt.Fprintf(&b, "[%d]", i)
				cur = l[i]
				continue
			}
		}
		if plainName(t) {
			b.WriteString("." + t)
		} else {
			fmt.Fprintf(&b, "[%s]", strconv.Quote(t))
		}
		m, _ := cur.(map[string]any)
		cur = m[t]
	}
	return b.String()
}

// plainName reports whether a key can be shown after a dot unquoted:
// letters, digits, '-' and '_' only.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
