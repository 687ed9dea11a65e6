package driftwrite

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// editor applies the change from one value (the desired object) to
// another (the accepted one) onto the YAML node of a file, touching only
// the leaves that changed, so comments and order elsewhere stay.
type editor struct {
	// scalars are values changed in place; when they are all, the text
	// itself is patched and the rest of the document stays byte for byte.
	scalars []scalarEdit
	// structural is set by any other change (a key added or removed, a
	// list item added, a node replaced): the document is re-encoded.
	structural bool
}

// scalarEdit is one scalar changed in place: where it was and how.
type scalarEdit struct {
	old    kyaml.Node
	node   *kyaml.Node
	inFlow bool
}

// mapping edits map node n from from to to. Keys to adds are appended
// (sorted, so the output is stable); keys to drops are removed.
func (e *editor) mapping(n *kyaml.Node, from, to map[string]any) {
	for _, k := range sortedKeys(to) {
		fv, inFrom := from[k]
		if inFrom && equalValue(fv, to[k]) {
			continue
		}
		i := keyIndex(n, k)
		if i < 0 {
			n.Content = append(n.Content, &kyaml.Node{Kind: kyaml.ScalarNode, Tag: "!!str", Value: k}, newNode(to[k], nil))
			e.structural = true
			continue
		}
		e.value(n, i+1, fv, to[k])
	}
	for _, k := range sortedKeys(from) {
		if _, ok := to[k]; ok {
			continue
		}
		if i := keyIndex(n, k); i >= 0 {
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
			e.structural = true
		}
	}
}

// value edits parent.Content[i] from from to to, replacing the node when
// its shape no longer fits.
func (e *editor) value(parent *kyaml.Node, i int, from, to any) {
	n := parent.Content[i]
	switch tv := to.(type) {
	case map[string]any:
		if n.Kind == kyaml.MappingNode {
			fm, _ := from.(map[string]any)
			e.mapping(n, fm, tv)
			return
		}
	case []any:
		if n.Kind == kyaml.SequenceNode {
			fl, _ := from.([]any)
			if e.sequence(n, fl, tv) {
				return
			}
		}
	default:
		if n.Kind == kyaml.ScalarNode {
			e.scalar(n, tv, parent.Style&kyaml.FlowStyle != 0)
			return
		}
	}
	parent.Content[i] = newNode(to, n)
	e.structural = true
}

// sequence edits a list: items that all carry a name are matched by name
// (containers, env, volumes), others by index when the length holds. It
// returns false when the list must be replaced whole.
func (e *editor) sequence(n *kyaml.Node, from, to []any) bool {
	if named(to) && namedNodes(n) {
		byName := map[string]any{}
		for _, f := range from {
			if m, ok := f.(map[string]any); ok {
				byName[m["name"].(string)] = f
			}
		}
		keep := map[string]bool{}
		for _, t := range to {
			name := t.(map[string]any)["name"].(string)
			keep[name] = true
			f, inFrom := byName[name]
			if inFrom && equalValue(f, t) {
				continue
			}
			if j := nodeByName(n, name); j >= 0 {
				e.value(n, j, f, t)
				continue
			}
			n.Content = append(n.Content, newNode(t, nil))
			e.structural = true
		}
		for j := len(n.Content) - 1; j >= 0; j-- {
			if !keep[nodeName(n.Content[j])] {
				n.Content = append(n.Content[:j], n.Content[j+1:]...)
				e.structural = true
			}
		}
		return true
	}
	if len(n.Content) != len(to) {
		return false
	}
	for j, t := range to {
		var f any
		if j < len(from) {
			f = from[j]
			if equalValue(f, t) {
				continue
			}
		}
		e.value(n, j, f, t)
	}
	return true
}

// scalar sets a scalar node's value in place, keeping its comments and,
// for strings, its quoting.
func (e *editor) scalar(n *kyaml.Node, v any, inFlow bool) {
	var cur any
	if err := n.Decode(&cur); err == nil && equalValue(cur, v) {
		return
	}
	nn := newNode(v, n)
	e.scalars = append(e.scalars, scalarEdit{old: *n, node: n, inFlow: inFlow})
	n.Tag, n.Value, n.Style = nn.Tag, nn.Value, nn.Style
}

// newNode encodes a value as a YAML node; like, when of the same kind,
// lends its style (flow or block collections, quoting of strings).
func newNode(v any, like *kyaml.Node) *kyaml.Node {
	n := &kyaml.Node{}
	if err := n.Encode(wholeInts(v)); err != nil {
		// Values come from JSON-decoded objects, which always encode.
		return &kyaml.Node{Kind: kyaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
	}
	if like == nil || like.Kind != n.Kind {
		return n
	}
	switch n.Kind {
	case kyaml.ScalarNode:
		quoted := like.Style&(kyaml.DoubleQuotedStyle|kyaml.SingleQuotedStyle) != 0
		if n.Tag == "!!str" && quoted && n.Style&(kyaml.LiteralStyle|kyaml.FoldedStyle) == 0 && !strings.Contains(n.Value, "\n") {
			n.Style = like.Style & (kyaml.DoubleQuotedStyle | kyaml.SingleQuotedStyle)
		}
	default:
		n.Style = like.Style & kyaml.FlowStyle
	}
	return n
}

// wholeInts turns whole float64s (JSON's numbers) into int64s, so 1000000
// is written as such and not as 1e+06.
func wholeInts(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = wholeInts(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = wholeInts(x)
		}
		return out
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t)
		}
	}
	return v
}

func keyIndex(n *kyaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// named reports whether every item is a map with a string name.
func named(items []any) bool {
	if len(items) == 0 {
		return false
	}
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := m["name"].(string); !ok {
			return false
		}
	}
	return true
}

func namedNodes(n *kyaml.Node) bool {
	for _, c := range n.Content {
		if nodeName(c) == "" {
			return false
		}
	}
	return true
}

func nodeName(n *kyaml.Node) string {
	if n.Kind != kyaml.MappingNode {
		return ""
	}
	if i := keyIndex(n, "name"); i >= 0 && n.Content[i+1].Kind == kyaml.ScalarNode {
		return n.Content[i+1].Value
	}
	return ""
}

func nodeByName(n *kyaml.Node, name string) int {
	for j, c := range n.Content {
		if nodeName(c) == name {
			return j
		}
	}
	return -1
}

// editDoc applies o's drift to one document's text. Scalar changes patch
// the text where the value stands; anything else re-encodes the document
// with kyaml, which keeps comments and order but not blank lines.
func editDoc(body string, o Object) (string, error) {
	var doc kyaml.Node
	if err := kyaml.Unmarshal([]byte(body), &doc); err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	if doc.Kind != kyaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != kyaml.MappingNode {
		return "", errors.New("the document is not a mapping")
	}
	root := doc.Content[0]
	from := o.Desired
	if from == nil {
		// Without the rendered object the file's own is the base: every
		// difference from Accepted is written.
		if err := root.Decode(&from); err != nil {
			return "", fmt.Errorf("decode: %w", err)
		}
	}
	e := &editor{}
	e.mapping(root, from, o.Accepted)
	if !e.structural && len(e.scalars) == 0 {
		return body, nil
	}
	if !e.structural {
		if out, ok := patchScalars(body, e.scalars, &doc); ok {
			return out, nil
		}
	}
	return encodeDoc(&doc, body)
}

// encodeDoc re-encodes a document, keeping the sequence indentation the
// original used.
func encodeDoc(doc *kyaml.Node, original string) (string, error) {
	var b bytes.Buffer
	style := kyaml.SequenceIndentStyle(kyaml.DeriveSeqIndentStyle(original))
	enc := kyaml.NewEncoderWithOptions(&b, &kyaml.EncoderOptions{SeqIndent: style})
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return b.String(), nil
}

// patchScalars rewrites each changed scalar where it stands in the text.
// It gives up (false) when a value cannot be found exactly as parsed, or
// the result would not read back as the edited document.
func patchScalars(body string, edits []scalarEdit, doc *kyaml.Node) (string, bool) {
	lines := strings.SplitAfter(body, "\n")
	sort.Slice(edits, func(i, j int) bool {
		a, b := edits[i].old, edits[j].old
		return a.Line > b.Line || (a.Line == b.Line && a.Column > b.Column)
	})
	for _, ed := range edits {
		old := ed.old
		if ed.inFlow || old.Line < 1 || old.Line > len(lines) || strings.Contains(old.Value, "\n") ||
			old.Style&(kyaml.LiteralStyle|kyaml.FoldedStyle|kyaml.TaggedStyle) != 0 || old.Tag == "!!merge" {
			return "", false
		}
		l := lines[old.Line-1]
		off := byteOffset(l, old.Column-1)
		if off < 0 {
			return "", false
		}
		tok, ok := scalarToken(l[off:], old.Style)
		if !ok {
			return "", false
		}
		var back kyaml.Node
		if err := kyaml.Unmarshal([]byte(tok), &back); err != nil || len(back.Content) != 1 || back.Content[0].Value != old.Value {
			return "", false
		}
		repl, err := kyaml.String(&kyaml.Node{Kind: kyaml.ScalarNode, Tag: ed.node.Tag, Value: ed.node.Value, Style: ed.node.Style}, kyaml.Trim)
		if err != nil || strings.Contains(repl, "\n") {
			return "", false
		}
		lines[old.Line-1] = l[:off] + repl + l[off+len(tok):]
	}
	out := strings.Join(lines, "")
	var got, want any
	if err := kyaml.Unmarshal([]byte(out), &got); err != nil {
		return "", false
	}
	if err := doc.Decode(&want); err != nil || !equalValue(got, want) {
		return "", false
	}
	return out, true
}

// byteOffset converts a rune column to a byte offset in l, or -1.
func byteOffset(l string, col int) int {
	off := 0
	for i := 0; i < col; i++ {
		if off >= len(l) {
			return -1
		}
		_, size := utf8.DecodeRuneInString(l[off:])
		off += size
	}
	return off
}

// scalarToken returns the text of the scalar at the start of s: a quoted
// one up to its closing quote, a plain one up to a comment or the end of
// the line.
func scalarToken(s string, style kyaml.Style) (string, bool) {
	switch {
	case style&kyaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return s[:i+1], strings.HasPrefix(s, `"`)
			case '\n':
				return "", false
			}
		}
		return "", false
	case style&kyaml.SingleQuotedStyle != 0:
		for i := 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				return s[:i+1], strings.HasPrefix(s, "'")
			}
			if s[i] == '\n' {
				return "", false
			}
		}
		return "", false
	default:
		end := strings.IndexAny(s, "\r\n")
		if end < 0 {
			end = len(s)
		}
		line := s[:end]
		for i := 1; i < len(line); i++ {
			if line[i] == '#' && (line[i-1] == ' ' || line[i-1] == '\t') {
				line = line[:i]
				break
			}
		}
		tok := strings.TrimRight(line, " \t")
		return tok, tok != ""
	}
}

// equalValue compares decoded YAML or JSON values, numbers by value (JSON
// gives int64 and float64, YAML int).
func equalValue(a, b any) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalize(x)
		}
		return out
	case int:
		return float64(t)
	case int32:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case float32:
		return float64(t)
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
