package render

import (
	"gopkg.in/yaml.v3"

	"github.com/gantryops/gantry/config"
)

// gantryNode returns the node of .gantry.yaml at keys under the app named
// app (e.g. "helm", "values"), so that an error about a value that came
// from there can point at its line. It is nil when there is no such node:
// a discovered app, an App built in code, or a file that cannot be read.
// Only failing renders call it, so the file is read and parsed each time.
func gantryNode(fsys *repoFS, app string, keys ...string) *yaml.Node {
	data, err := fsys.fs.ReadFile(config.RepoFileName)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	for _, item := range seqItems(mapValue(doc.Content[0], "apps")) {
		if n := mapValue(item, "name"); n == nil || n.Value != app {
			continue
		}
		node := item
		for _, k := range keys {
			node = mapValue(node, k)
		}
		return node
	}
	return nil
}

// gantryItemLine returns the .gantry.yaml line of the i-th entry of the
// list at keys under the app, or 0 when it cannot be found.
func gantryItemLine(fsys *repoFS, app string, i int, keys ...string) int {
	items := seqItems(gantryNode(fsys, app, keys...))
	if i < 0 || i >= len(items) {
		return 0
	}
	return items[i].Line
}

// gantryKeyLine returns the .gantry.yaml line of the key k of the mapping
// at keys under the app, or of the field at keys itself when k is "";
// 0 when it cannot be found.
func gantryKeyLine(fsys *repoFS, app, k string, keys ...string) int {
	if k == "" && len(keys) > 0 {
		parent := gantryNode(fsys, app, keys[:len(keys)-1]...)
		return keyLine(parent, keys[len(keys)-1])
	}
	return keyLine(gantryNode(fsys, app, keys...), k)
}

// keyLine returns the line of key k in mapping m, or 0.
func keyLine(m *yaml.Node, k string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return 0
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i].Line
		}
	}
	return 0
}
