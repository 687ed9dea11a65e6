package driftwrite

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// chunk is one document of a multi-document YAML file as text, so that
// documents gantry does not edit are written back byte for byte.
type chunk struct {
	// sep is the "---" line that opens the document, newline included;
	// empty for a first document without one.
	sep string
	// body is the document's text after sep, up to the next separator.
	body string
	// line is the 1-based line of body's first line in the file.
	line int
	// removed drops the chunk when the file is joined.
	removed bool
}

// splitDocs cuts a file at its document separators.
func splitDocs(data string) []chunk {
	var out []chunk
	cur := chunk{line: 1}
	var body strings.Builder
	line := 0
	for rest := data; rest != ""; {
		l := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			l = rest[:i+1]
		}
		rest = rest[len(l):]
		line++
		if isSeparator(l) {
			if cur.sep != "" || body.Len() > 0 {
				cur.body = body.String()
				out = append(out, cur)
			}
			cur = chunk{sep: l, line: line + 1}
			body.Reset()
			continue
		}
		body.WriteString(l)
	}
	cur.body = body.String()
	return append(out, cur)
}

func isSeparator(l string) bool {
	if !strings.HasPrefix(l, "---") {
		return false
	}
	rest := l[3:]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\n' || rest[0] == '\r'
}

// joinDocs writes the chunks back. A file whose first document was removed
// does not start with a separator it did not have.
func joinDocs(chunks []chunk, hadLeadingSep bool) string {
	var b strings.Builder
	first := true
	for _, c := range chunks {
		if c.removed || (c.sep == "" && c.body == "") {
			continue
		}
		if first && !hadLeadingSep && c.sep != "" && isPlainSep(c.sep) {
			b.WriteString(c.body)
		} else {
			b.WriteString(c.sep)
			b.WriteString(c.body)
		}
		first = false
	}
	return b.String()
}

// isPlainSep is a separator carrying nothing else (no comment or tag).
func isPlainSep(sep string) bool { return strings.TrimSpace(sep) == "---" }

// docID is what identifies an object in a document.
type docID struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
}

// identify reads a document's identity; ok is false for a document that
// holds no object (comments only, or not a mapping).
func identify(body string) (docID, bool) {
	var id docID
	if err := kyaml.Unmarshal([]byte(body), &id); err != nil || id.Kind == "" {
		return docID{}, false
	}
	return id, true
}

// matches says whether a document is o: same group, kind and name, and
// the same namespace or none (render gave it the app's).
func (id docID) matches(o Object) bool {
	if id.Kind != o.Kind || id.Metadata.Name != o.Name {
		return false
	}
	if groupOf(id.APIVersion) != groupOf(o.APIVersion) {
		return false
	}
	return id.Metadata.Namespace == "" || id.Metadata.Namespace == o.Namespace
}

func groupOf(apiVersion string) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return apiVersion
	}
	return gv.Group
}

// findDoc returns the index of o's document among chunks, or -1. Among
// several candidates the one holding line (the source map's) wins.
func findDoc(chunks []chunk, o Object, line int) int {
	found := -1
	for i, c := range chunks {
		if c.removed {
			continue
		}
		id, ok := identify(c.body)
		if !ok || !id.matches(o) {
			continue
		}
		end := c.line + strings.Count(c.body, "\n")
		if line >= c.line-1 && line <= end {
			return i
		}
		if found < 0 {
			found = i
		}
	}
	return found
}

// hasObjects reports whether any chunk left holds an object.
func hasObjects(chunks []chunk) bool {
	for _, c := range chunks {
		if c.removed {
			continue
		}
		if _, ok := identify(c.body); ok {
			return true
		}
	}
	return false
}
