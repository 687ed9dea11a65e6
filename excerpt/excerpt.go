// Package excerpt cuts values from a repository before an error quotes
// them. Errors are published on pull requests, and a value may be a secret
// that a symlink or a paste brought in: no message carries more than Limit
// bytes of one.
package excerpt

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limit is the most bytes of a value an error quotes.
const Limit = 40

// cut returns at most Limit bytes of s, ending on a character boundary,
// and whether it cut.
func cut(s string) (string, bool) {
	if len(s) <= Limit {
		return s, false
	}
	n := Limit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// Short is s unquoted, cut to Limit bytes with an ellipsis.
func Short(s string) string {
	if c, cutShort := cut(s); cutShort {
		return c + "…"
	}
	return s
}

// Quote is s quoted, cut to Limit bytes with an ellipsis after the quote.
func Quote(s string) string {
	if c, cutShort := cut(s); cutShort {
		return strconv.Quote(c) + "…"
	}
	return strconv.Quote(s)
}

// quoted finds quoted text in a library's message: "…", '…' or `…`.
var quoted = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|`[^`]*`")

// Clip cuts every quoted value in a library's message to Limit bytes, so
// that no message carries more than a short piece of the input.
func Clip(msg string) string {
	return quoted.ReplaceAllStringFunc(msg, func(q string) string {
		c, cutShort := cut(q[1 : len(q)-1])
		if !cutShort {
			return q
		}
		return q[:1] + c + "…" + q[len(q)-1:]
	})
}

// OneLine is s with every run of white space, line breaks included, made
// one space: a quoted value or message cannot start a line of its own.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
