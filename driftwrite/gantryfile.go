package driftwrite

import (
	"errors"
	"fmt"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// register adds a new patch file to the app's patches in .gantry.yaml, so
// the next render applies it.
func (w *writer) register(entry string) error {
	name := w.repoFile()
	if w.model.Discovered {
		return fmt.Errorf("register drift patch %s of app %s: the app was discovered, with no %s to list it in; declare the app there with `patches: [%s]`",
			entry, w.app.Name, name, entry)
	}
	data, err := w.readFile(name)
	if err != nil {
		return fmt.Errorf("register drift patch %s of app %s: %w", entry, w.app.Name, err)
	}
	out, err := addPatch(string(data), w.app.Name, entry)
	if err != nil {
		return fmt.Errorf("register drift patch %s in %s, app %s: %w", entry, name, w.app.Name, err)
	}
	w.res.Files[name] = []byte(out)
	return nil
}

// addPatch appends entry to the patches of app in a .gantry.yaml. It
// inserts one or two lines where they belong, so the rest of the file
// stays byte for byte; where the layout is unusual (flow style, say) it
// re-encodes the file with kyaml, which keeps comments and order.
func addPatch(text, app, entry string) (string, error) {
	var doc kyaml.Node
	if err := kyaml.Unmarshal([]byte(text), &doc); err != nil {
		return "", fmt.Errorf("parse: %w", err)
	}
	item, err := appNode(&doc, app)
	if err != nil {
		return "", err
	}
	var want any
	if err := doc.Decode(&want); err != nil {
		return "", fmt.Errorf("decode: %w", err)
	}
	appendPatch(want, app, entry)
	if out, ok := insertPatchLine(text, item, entry); ok {
		var got any
		if err := kyaml.Unmarshal([]byte(out), &got); err == nil && equalValue(got, want) {
			return out, nil
		}
	}
	pi := keyIndex(item, "patches")
	switch {
	case pi < 0:
		item.Content = append(item.Content, &kyaml.Node{Kind: kyaml.ScalarNode, Tag: "!!str", Value: "patches"},
			&kyaml.Node{Kind: kyaml.SequenceNode, Tag: "!!seq", Content: []*kyaml.Node{newNode(entry, nil)}})
	case item.Content[pi+1].Kind == kyaml.SequenceNode:
		item.Content[pi+1].Content = append(item.Content[pi+1].Content, newNode(entry, nil))
	case item.Content[pi+1].Tag == "!!null":
		item.Content[pi+1] = &kyaml.Node{Kind: kyaml.SequenceNode, Tag: "!!seq", Content: []*kyaml.Node{newNode(entry, nil)}}
	default:
		return "", errors.New("its patches is not a list")
	}
	return encodeDoc(&doc, text)
}

// appNode finds the mapping of the app named app under apps.
func appNode(doc *kyaml.Node, app string) (*kyaml.Node, error) {
	if doc.Kind != kyaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != kyaml.MappingNode {
		return nil, errors.New("not a mapping")
	}
	root := doc.Content[0]
	i := keyIndex(root, "apps")
	if i < 0 || root.Content[i+1].Kind != kyaml.SequenceNode {
		return nil, errors.New("no apps list")
	}
	for _, it := range root.Content[i+1].Content {
		if it.Kind != kyaml.MappingNode {
			continue
		}
		if j := keyIndex(it, "name"); j >= 0 && it.Content[j+1].Value == app {
			return it, nil
		}
	}
	return nil, fmt.Errorf("no app named %s under apps", app)
}

// appendPatch makes the same change on the decoded file, to check the
// text edit against.
func appendPatch(doc any, app, entry string) {
	root, _ := doc.(map[string]any)
	apps, _ := root["apps"].([]any)
	for _, a := range apps {
		m, ok := a.(map[string]any)
		if !ok || m["name"] != app {
			continue
		}
		list, _ := m["patches"].([]any)
		m["patches"] = append(list, entry)
		return
	}
}

// insertPatchLine inserts entry as text: after the last item of a block
// patches list, or as a new patches list after the app's path (or name)
// line. It reports false where the layout is not that simple.
func insertPatchLine(text string, item *kyaml.Node, entry string) (string, bool) {
	if item.Style&kyaml.FlowStyle != 0 {
		return "", false
	}
	value, err := kyaml.String(newNode(entry, nil), kyaml.Trim)
	if err != nil || strings.Contains(value, "\n") {
		return "", false
	}
	lines := strings.SplitAfter(text, "\n")
	var at int
	var add string
	if pi := keyIndex(item, "patches"); pi >= 0 {
		seq := item.Content[pi+1]
		if seq.Kind != kyaml.SequenceNode || seq.Style&kyaml.FlowStyle != 0 || len(seq.Content) == 0 {
			return "", false
		}
		last := seq.Content[len(seq.Content)-1]
		if !singleLine(last) || last.Line < 1 || last.Line > len(lines) {
			return "", false
		}
		l := lines[last.Line-1]
		off := byteOffset(l, last.Column-1)
		if off < 0 || strings.TrimSpace(l[:off]) != "-" {
			return "", false
		}
		at, add = last.Line, l[:off]+value+"\n"
	} else {
		ki := keyIndex(item, "path")
		if ki < 0 {
			ki = keyIndex(item, "name")
		}
		if ki < 0 {
			return "", false
		}
		k, v := item.Content[ki], item.Content[ki+1]
		if !singleLine(v) || v.Line != k.Line || k.Line > len(lines) {
			return "", false
		}
		indent := strings.Repeat(" ", k.Column-1)
		dash := indent
		if kyaml.DeriveSeqIndentStyle(text) == string(kyaml.WideSequenceStyle) {
			dash += "  "
		}
		at, add = k.Line, indent+"patches:\n"+dash+"- "+value+"\n"
	}
	if !strings.HasSuffix(lines[at-1], "\n") {
		lines[at-1] += "\n"
	}
	out := strings.Join(lines[:at], "") + add + strings.Join(lines[at:], "")
	return out, true
}

// singleLine reports whether a node is a scalar written on one line.
func singleLine(n *kyaml.Node) bool {
	return n.Kind == kyaml.ScalarNode && !strings.Contains(n.Value, "\n") &&
		n.Style&(kyaml.LiteralStyle|kyaml.FoldedStyle) == 0
}
