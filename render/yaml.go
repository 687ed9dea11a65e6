package render

import (
	"bytes"
	"errors"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantryops/gantry/excerpt"
)

// document is one decoded YAML document: a JSON-compatible value and the
// line where it starts.
type document struct {
	// Line is the 1-based line of the document's root node.
	Line int
	// Value is nil for an empty document, else map[string]any, []any or a
	// scalar, with integers as int64 and floats as float64.
	Value any
	// Items are the lines of a List's items, in order, when Value is a
	// List; nil otherwise.
	ItemLines []int
}

// yamlLine finds "line N" in yaml.v3's parse errors.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// decodeYAML decodes every document in data strictly: duplicate keys,
// non-scalar keys, values JSON cannot hold, nesting past lim.MaxDepth and
// alias expansion past lim.MaxNodes (for the whole file, all documents
// together) are errors naming file and line.
func decodeYAML(file string, data []byte, lim Limits) ([]document, error) {
	docs, _, err := decodeYAMLCounted(file, data, lim)
	return docs, err
}

// decodeYAMLCounted is decodeYAML that also returns the number of nodes
// the file expanded to, for the app's budget.
func decodeYAMLCounted(file string, data []byte, lim Limits) ([]document, int, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []document
	// One converter for the file: its node count is the file's budget, so
	// many small alias bombs in one file add up.
	c := converter{file: file, lim: lim}
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, c.nodes, nil
		}
		if err != nil {
			return nil, c.nodes, yamlSyntaxError(file, err)
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		v, err := c.value(root, 0)
		if err != nil {
			return nil, c.nodes, err
		}
		if v == nil {
			continue
		}
		d := document{Line: root.Line, Value: v}
		if items := listItems(root); items != nil {
			for _, it := range items {
				d.ItemLines = append(d.ItemLines, it.Line)
			}
		}
		docs = append(docs, d)
	}
}

// yamlSyntaxError turns a yaml.v3 error into a located *Error.
func yamlSyntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(strings.Replace(msg, m[0]+":", "", 1))
	}
	return fileError(file, line, ErrInvalid, "parse yaml: %s", excerpt.Clip(msg))
}

// listItems returns the item nodes of a kind: *List document's items.
func listItems(root *yaml.Node) []*yaml.Node {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	kind := mapValue(root, "kind")
	items := mapValue(root, "items")
	if kind == nil || items == nil || items.Kind != yaml.SequenceNode || !strings.HasSuffix(kind.Value, "List") {
		return nil
	}
	return items.Content
}

// mapValue returns the value node of key in a mapping node, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// converter turns yaml.v3 nodes into JSON-compatible values, counting the
// nodes it visits (aliases expanded) against the limits.
type converter struct {
	file  string
	lim   Limits
	nodes int
}

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	c.nodes++
	if c.nodes > c.lim.MaxNodes {
		return nil, fileError(c.file, n.Line, ErrLimit,
			"file expands to more than %d YAML nodes (alias bomb?)", c.lim.MaxNodes)
	}
	if depth > c.lim.MaxDepth {
		return nil, fileError(c.file, n.Line, ErrLimit,
			"document nests deeper than %d levels", c.lim.MaxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return c.value(n.Alias, depth)
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.value(item, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		lines := make(map[string]int, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				merges = append(merges, v)
				continue
			}
			key, err := c.key(k)
			if err != nil {
				return nil, err
			}
			if prev, dup := lines[key]; dup {
				return nil, fileError(c.file, k.Line, ErrInvalid,
					"duplicate key %s (first at line %d)", excerpt.Quote(key), prev)
			}
			lines[key] = k.Line
			val, err := c.value(v, depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = val
		}
		for _, m := range merges {
			if err := c.merge(out, m, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	default:
		return nil, nil
	}
}

// merge applies a "<<" merge key: keys already present win.
func (c *converter) merge(out map[string]any, m *yaml.Node, depth int) error {
	for m.Kind == yaml.AliasNode {
		m = m.Alias
	}
	var sources []*yaml.Node
	switch m.Kind {
	case yaml.MappingNode:
		sources = []*yaml.Node{m}
	case yaml.SequenceNode:
		sources = m.Content
	default:
		return fileError(c.file, m.Line, ErrInvalid, "merge key \"<<\" needs a mapping")
	}
	for _, s := range sources {
		v, err := c.value(s, depth)
		if err != nil {
			return err
		}
		mv, ok := v.(map[string]any)
		if !ok {
			return fileError(c.file, s.Line, ErrInvalid, "merge key \"<<\" needs a mapping")
		}
		for k, val := range mv {
			if _, set := out[k]; !set {
				out[k] = val
			}
		}
	}
	return nil
}

// key returns a mapping key as a string, the way sigs.k8s.io/yaml does.
func (c *converter) key(k *yaml.Node) (string, error) {
	for k.Kind == yaml.AliasNode {
		k = k.Alias
	}
	if k.Kind != yaml.ScalarNode {
		return "", fileError(c.file, k.Line, ErrInvalid, "mapping key is not a scalar")
	}
	return k.Value, nil
}

// scalar resolves a scalar by its tag to a JSON-compatible value.
func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fileError(c.file, n.Line, ErrInvalid, "decode bool %s: %v", excerpt.Quote(n.Value), excerpt.Clip(err.Error()))
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fileError(c.file, n.Line, ErrInvalid, "decode integer %s: %v", excerpt.Quote(n.Value), excerpt.Clip(err.Error()))
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fileError(c.file, n.Line, ErrInvalid, "decode number %s: %v", excerpt.Quote(n.Value), excerpt.Clip(err.Error()))
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fileError(c.file, n.Line, ErrInvalid, "number %s cannot be represented in JSON", excerpt.Quote(n.Value))
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(n.Value, ".eE") {
			return int64(f), nil
		}
		return f, nil
	default:
		// Strings, timestamps, binary and custom tags keep their text, as
		// they would through JSON.
		return n.Value, nil
	}
}
