package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a configuration file, located precisely
// enough for an editor to jump to it and for the bot to annotate it.
type FieldError struct {
	File   string // path of the file, as given to the loader
	Line   int    // 1-based; 0 when the problem has no single place
	Column int    // 1-based; 0 when unknown
	Field  string // dotted path, e.g. "apps[1].path"; empty for the document
	Msg    string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Errors are all the problems found in one file, in file order. Loading
// reports every problem at once, so a user fixes a file in one pass.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each FieldError.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns nil for no errors, else the sorted Errors.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	return es
}
