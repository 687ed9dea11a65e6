package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
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

// excerptLimit is the most characters of a value from a repository that
// an error quotes: errors are published on pull requests, and a value may
// be a secret a symlink or a paste brought in.
const excerptLimit = 40

// excerpt quotes at most excerptLimit characters of a value, with an
// ellipsis when cut.
func excerpt(s string) string {
	r := []rune(s)
	if len(r) > excerptLimit {
		return strconv.Quote(string(r[:excerptLimit])) + "…"
	}
	return strconv.Quote(s)
}

// quotedText finds quoted text in a library's message: "…", '…' or `…`.
var quotedText = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|`[^`]*`")

// clipQuoted cuts every quoted value in a library's message to an
// excerpt.
func clipQuoted(msg string) string {
	return quotedText.ReplaceAllStringFunc(msg, func(q string) string {
		inner := []rune(q[1 : len(q)-1])
		if len(inner) <= excerptLimit {
			return q
		}
		return q[:1] + string(inner[:excerptLimit]) + "…" + q[len(q)-1:]
	})
}
