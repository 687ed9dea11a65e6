package promote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// merged is a YAML file with a change merged in.
type merged struct {
	out       []byte
	edits     []Edit
	conflicts []Conflict
}

// merger carries the change from base to ours onto theirs (the target's
// documents), editing theirs in place.
type merger struct {
	edits     []Edit
	conflicts []Conflict
	// scalars are the scalars changed in place; when they are the only
	// change, the target's text is patched at their positions and every
	// other byte (comments, quoting, indentation) stays.
	scalars []scalarEdit
	// structural is set by any other change: the file is re-encoded.
	structural bool
	// secret hides values: the document is a Secret.
	secret bool
}

// scalarEdit is a scalar of the target replaced in place.
type scalarEdit struct {
	line, column int
	old, new     kyaml.Node
}

// maxShown bounds a value rendered in an edit or conflict.
const maxShown = 80

// mergeYAML merges the change from before to after into cur, document by
// document. Documents are matched by kind and name when every document of
// the three has one, else by position; an error means they cannot be
// matched, or a file is not YAML.
func mergeYAML(before, after, cur []byte) (*merged, error) {
	base, err1 := parseDocs(before)
	ours, err2 := parseDocs(after)
	theirs, err3 := parseDocs(cur)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	m := &merger{}
	pairs, err := matchDocs(base, ours, theirs)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		m.secret = isSecret(p.t) || isSecret(p.o)
		m.value(p.b.Content[0], p.o.Content[0], p.t, 0, "")
	}
	out := &merged{edits: m.edits, conflicts: m.conflicts, out: cur}
	if len(m.edits) == 0 {
		return out, nil
	}
	if !m.structural {
		if patched, ok := patchScalars(cur, m.scalars, theirs); ok {
			out.out = patched
			return out, nil
		}
	}
	enc, err := encodeDocs(theirs)
	if err != nil {
		return nil, err
	}
	out.out = enc
	return out, nil
}

// docTriple is one document in the three versions.
type docTriple struct{ b, o, t *kyaml.Node }

// matchDocs pairs the documents of the three versions. Every version must
// hold the same documents: adding or removing whole documents is left to
// the whole-file rule.
func matchDocs(base, ours, theirs []*kyaml.Node) ([]docTriple, error) {
	if len(base) != len(ours) || len(base) != len(theirs) {
		return nil, fmt.Errorf("the versions hold %d, %d and %d YAML documents", len(base), len(ours), len(theirs))
	}
	ids := func(docs []*kyaml.Node) (map[string]int, bool) {
		m := map[string]int{}
		for i, d := range docs {
			id := docID(d)
			if id == "" {
				return nil, false
			}
			if _, dup := m[id]; dup {
				return nil, false
			}
			m[id] = i
		}
		return m, true
	}
	bi, ok1 := ids(base)
	oi, ok2 := ids(ours)
	ti, ok3 := ids(theirs)
	var out []docTriple
	if ok1 && ok2 && ok3 && len(base) > 1 {
		for id, i := range bi {
			j, inO := oi[id]
			k, inT := ti[id]
			if !inO || !inT {
				return nil, fmt.Errorf("document %s is not in every version", id)
			}
			out = append(out, docTriple{base[i], ours[j], theirs[k]})
		}
		return out, nil
	}
	for i := range base {
		out = append(out, docTriple{base[i], ours[i], theirs[i]})
	}
	return out, nil
}

// docID is a document's kind and name, "" when it has none.
func docID(doc *kyaml.Node) string {
	var v struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
	}
	if doc.Decode(&v) != nil || v.Kind == "" || v.Metadata.Name == "" {
		return ""
	}
	return v.Kind + "/" + v.Metadata.Namespace + "/" + v.Metadata.Name
}

func isSecret(doc *kyaml.Node) bool {
	var v struct {
		Kind string `yaml:"kind"`
	}
	return doc.Decode(&v) == nil && v.Kind == "Secret"
}

// value merges the change base → ours into parent.Content[i] (the target's
// node), at field.
func (m *merger) value(base, ours, parent *kyaml.Node, i int, field string) {
	t := parent.Content[i]
	if equalNodes(base, ours) {
		return
	}
	switch {
	case base.Kind == kyaml.MappingNode && ours.Kind == kyaml.MappingNode && t.Kind == kyaml.MappingNode:
		m.mapping(base, ours, t, field)
		return
	case base.Kind == kyaml.SequenceNode && ours.Kind == kyaml.SequenceNode && t.Kind == kyaml.SequenceNode:
		if named(base) && named(ours) && named(t) {
			m.namedSequence(base, ours, t, field)
			return
		}
		if scalars(base) && scalars(ours) && scalars(t) {
			m.scalarSequence(base, ours, t, field)
			return
		}
	}
	switch {
	case equalNodes(t, ours):
		// The target already holds the new value.
	case equalNodes(t, base):
		m.edit(field, base, ours)
		if t.Kind == kyaml.ScalarNode && ours.Kind == kyaml.ScalarNode {
			m.scalars = append(m.scalars, scalarEdit{line: t.Line, column: t.Column, old: *t})
			setScalar(t, ours)
			m.scalars[len(m.scalars)-1].new = *t
			return
		}
		parent.Content[i] = copyNode(ours)
		m.structural = true
	default:
		m.conflict(field, fmt.Sprintf("the change sets %s → %s, but the target holds %s", m.show(base), m.show(ours), m.show(t)))
	}
}

// mapping merges the keys of a mapping: added keys are added unless the
// target holds another value, removed keys are removed when the target
// holds the old value, changed keys are merged.
func (m *merger) mapping(base, ours, t *kyaml.Node, field string) {
	for _, k := range keysOf(ours, base) {
		f := join(field, k)
		bv, ov, ti := get(base, k), get(ours, k), keyIndex(t, k)
		switch {
		case bv == nil && ti < 0:
			t.Content = append(t.Content, copyNode(keyNode(ours, k)), copyNode(ov))
			m.structural = true
			m.edit(f, nil, ov)
		case bv == nil:
			if !equalNodes(t.Content[ti+1], ov) {
				m.conflict(f, fmt.Sprintf("the change adds it as %s, but the target holds %s", m.show(ov), m.show(t.Content[ti+1])))
			}
		case ov == nil && ti < 0:
		case ov == nil:
			if !equalNodes(t.Content[ti+1], bv) {
				m.conflict(f, fmt.Sprintf("the change removes it (it was %s), but the target holds %s", m.show(bv), m.show(t.Content[ti+1])))
				continue
			}
			t.Content = append(t.Content[:ti], t.Content[ti+2:]...)
			m.structural = true
			m.edit(f, bv, nil)
		case ti < 0:
			if !equalNodes(bv, ov) {
				m.conflict(f, fmt.Sprintf("the change sets %s → %s, but the target does not set it", m.show(bv), m.show(ov)))
			}
		default:
			m.value(bv, ov, t, ti+1, f)
		}
	}
}

// namedSequence merges a list whose items all carry a name (images,
// containers, env): items are matched by name, as mapping does keys.
func (m *merger) namedSequence(base, ours, t *kyaml.Node, field string) {
	byName := func(n *kyaml.Node) map[string]int {
		out := map[string]int{}
		for i, it := range n.Content {
			out[nameOf(it)] = i
		}
		return out
	}
	bn, tn := byName(base), byName(t)
	on := byName(ours)
	for _, it := range ours.Content {
		name := nameOf(it)
		f := fmt.Sprintf("%s[name=%s]", field, name)
		bi, inB := bn[name]
		ti, inT := tn[name]
		switch {
		case !inB && !inT:
			t.Content = append(t.Content, copyNode(it))
			m.structural = true
			m.edit(f, nil, it)
		case !inB:
			if !equalNodes(t.Content[ti], it) {
				m.conflict(f, fmt.Sprintf("the change adds it as %s, but the target holds %s", m.show(it), m.show(t.Content[ti])))
			}
		case !inT:
			if !equalNodes(base.Content[bi], it) {
				m.conflict(f, "the change edits it, but the target's list has no item of that name")
			}
		default:
			m.value(base.Content[bi], it, t, ti, f)
		}
	}
	for _, it := range base.Content {
		name := nameOf(it)
		if _, kept := on[name]; kept {
			continue
		}
		f := fmt.Sprintf("%s[name=%s]", field, name)
		ti, inT := byName(t)[name]
		switch {
		case !inT:
		case equalNodes(t.Content[ti], it):
			t.Content = append(t.Content[:ti], t.Content[ti+1:]...)
			m.structural = true
			m.edit(f, it, nil)
		default:
			m.conflict(f, "the change removes it, but the target's item differs from the source's before the change")
		}
	}
}

// scalarSequence merges a list of plain values (resources, patches) as a
// set: items the change added are appended when missing, items it removed
// are removed when present; the target's order and its own items stay.
func (m *merger) scalarSequence(base, ours, t *kyaml.Node, field string) {
	has := func(n *kyaml.Node, v *kyaml.Node) int {
		for i, it := range n.Content {
			if equalNodes(it, v) {
				return i
			}
		}
		return -1
	}
	for _, it := range ours.Content {
		if has(base, it) < 0 && has(t, it) < 0 {
			t.Content = append(t.Content, copyNode(it))
			m.structural = true
			m.edit(field+"[]", nil, it)
		}
	}
	for _, it := range base.Content {
		if has(ours, it) >= 0 {
			continue
		}
		if i := has(t, it); i >= 0 {
			t.Content = append(t.Content[:i], t.Content[i+1:]...)
			m.structural = true
			m.edit(field+"[]", it, nil)
		}
	}
}

func (m *merger) edit(field string, from, to *kyaml.Node) {
	e := Edit{Field: field}
	if from != nil {
		e.From = m.show(from)
	}
	if to != nil {
		e.To = m.show(to)
	}
	m.edits = append(m.edits, e)
}

func (m *merger) conflict(field, why string) {
	m.conflicts = append(m.conflicts, Conflict{Field: field, Why: why})
}

// show renders a value on one short line; a Secret's values are hidden.
func (m *merger) show(n *kyaml.Node) string {
	if m.secret {
		return "(hidden: Secret)"
	}
	var b bytes.Buffer
	enc := kyaml.NewEncoder(&b)
	c := copyNode(n)
	stripComments(c)
	if c.Kind != kyaml.ScalarNode {
		c.Style |= kyaml.FlowStyle
	}
	if err := enc.Encode(c); err != nil {
		return "(a value)"
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if r := []rune(s); len(r) > maxShown {
		s = string(r[:maxShown-1]) + "…"
	}
	return s
}

// setScalar gives t the value of o, keeping t's comments and, for strings
// of the same kind, t's quoting.
func setScalar(t, o *kyaml.Node) {
	quoted := t.Style & (kyaml.DoubleQuotedStyle | kyaml.SingleQuotedStyle)
	t.Value, t.Tag = o.Value, o.Tag
	t.Style = o.Style
	if quoted != 0 && o.ShortTag() == "!!str" && !strings.Contains(o.Value, "\n") && o.Style&(kyaml.LiteralStyle|kyaml.FoldedStyle) == 0 {
		t.Style = quoted
	}
}

// patchScalars rewrites each scalar edit in the target's text at its
// position, so the rest of the file stays byte for byte. It reports false
// when a scalar cannot be found where the parser saw it (then the caller
// re-encodes), and checks that the patched text reads as the merged
// documents.
func patchScalars(src []byte, edits []scalarEdit, want []*kyaml.Node) ([]byte, bool) {
	lines := strings.SplitAfter(string(src), "\n")
	for _, e := range edits {
		if e.line < 1 || e.line > len(lines) || e.old.Style&(kyaml.LiteralStyle|kyaml.FoldedStyle) != 0 || strings.Contains(e.old.Value, "\n") {
			return nil, false
		}
		l := lines[e.line-1]
		off := runeOffset(l, e.column-1)
		if off < 0 {
			return nil, false
		}
		oldTok, ok1 := token(e.old)
		newTok, ok2 := token(e.new)
		if !ok1 || !ok2 || !strings.HasPrefix(l[off:], oldTok) {
			return nil, false
		}
		lines[e.line-1] = l[:off] + newTok + l[off+len(oldTok):]
	}
	out := []byte(strings.Join(lines, ""))
	got, err := decodeDocs(out)
	if err != nil {
		return nil, false
	}
	var wantV []any
	for _, d := range want {
		var v any
		if d.Decode(&v) != nil {
			return nil, false
		}
		wantV = append(wantV, v)
	}
	return out, equalValues(got, wantV)
}

// token is a scalar as it is written on one line.
func token(n kyaml.Node) (string, bool) {
	c := n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	c.Anchor = ""
	var b bytes.Buffer
	if err := kyaml.NewEncoder(&b).Encode(&c); err != nil {
		return "", false
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if strings.Contains(s, "\n") {
		return "", false
	}
	return s, true
}

// runeOffset is the byte offset of the col-th character of l (yaml's
// columns count characters), -1 when l is shorter.
func runeOffset(l string, col int) int {
	n := 0
	for i := range l {
		if n == col {
			return i
		}
		n++
	}
	if n == col {
		return len(l)
	}
	return -1
}

// parseDocs parses every YAML document of data.
func parseDocs(data []byte) ([]*kyaml.Node, error) {
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	var out []*kyaml.Node
	for {
		var n kyaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not YAML: %w", err)
		}
		if len(n.Content) == 0 {
			continue
		}
		out = append(out, &n)
	}
}

// decodeDocs decodes every document of data into plain values.
func decodeDocs(data []byte) ([]any, error) {
	docs, err := parseDocs(data)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(docs))
	for _, d := range docs {
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// encodeDocs writes documents back, with kyaml's layout.
func encodeDocs(docs []*kyaml.Node) ([]byte, error) {
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		enc := kyaml.NewEncoder(&b)
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode YAML: %w", err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("encode YAML: %w", err)
		}
	}
	return b.Bytes(), nil
}

// equalNodes compares two nodes as data: comments, layout and quoting
// aside.
func equalNodes(a, b *kyaml.Node) bool {
	if a == nil || b == nil {
		return a == b
	}
	var va, vb any
	if a.Decode(&va) != nil || b.Decode(&vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func equalValues(a, b []any) bool { return reflect.DeepEqual(a, b) }

// keysOf lists the keys of a, then those only in b, in their order.
func keysOf(a, b *kyaml.Node) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range []*kyaml.Node{a, b} {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

func keyIndex(n *kyaml.Node, k string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return i
		}
	}
	return -1
}

func get(n *kyaml.Node, k string) *kyaml.Node {
	if i := keyIndex(n, k); i >= 0 {
		return n.Content[i+1]
	}
	return nil
}

func keyNode(n *kyaml.Node, k string) *kyaml.Node {
	return n.Content[keyIndex(n, k)]
}

// named reports whether every item of a list is a mapping with a unique
// string name.
func named(n *kyaml.Node) bool {
	seen := map[string]bool{}
	for _, it := range n.Content {
		name := nameOf(it)
		if name == "" || seen[name] {
			return false
		}
		seen[name] = true
	}
	return len(n.Content) > 0
}

func nameOf(n *kyaml.Node) string {
	if n.Kind != kyaml.MappingNode {
		return ""
	}
	if v := get(n, "name"); v != nil && v.Kind == kyaml.ScalarNode {
		return v.Value
	}
	return ""
}

// scalars reports whether every item of a list is a scalar.
func scalars(n *kyaml.Node) bool {
	for _, it := range n.Content {
		if it.Kind != kyaml.ScalarNode {
			return false
		}
	}
	return true
}

// copyNode is a deep copy of n.
func copyNode(n *kyaml.Node) *kyaml.Node {
	c := *n
	c.Content = make([]*kyaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = copyNode(k)
	}
	return &c
}

func stripComments(n *kyaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}

func join(field, k string) string {
	if field == "" {
		return k
	}
	return field + "." + k
}
