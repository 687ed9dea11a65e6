package sandbox

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

var (
	htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)
	summaryTag  = regexp.MustCompile(`<details[^>]*>\s*<summary>(.*?)</summary>`)
	htmlTag     = regexp.MustCompile(`</?[a-zA-Z][a-zA-Z0-9]*(\s[^>]*)?/?>`)
	bold        = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	tableRule   = regexp.MustCompile(`^\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$`)
)

// Readable turns the markdown gantry posts (comments, check summaries,
// pull request bodies) into plain text for a terminal: HTML comments
// (gantry's sealed markers) dropped, collapsible sections shown as
// "▸ summary", code fences removed with their content indented, tables
// aligned in columns, and emphasis, headings and other tags stripped.
func Readable(md string) string {
	md = htmlComment.ReplaceAllString(strings.ReplaceAll(md, "\r\n", "\n"), "")
	var out []string
	var table [][]string
	flush := func() {
		out = append(out, alignTable(table)...)
		table = nil
	}
	inFence := false
	for _, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			flush()
			inFence = !inFence
			continue
		}
		if inFence {
			out = append(out, "  "+line)
			continue
		}
		if strings.HasPrefix(trimmed, "|") {
			if !tableRule.MatchString(trimmed) {
				table = append(table, tableCells(trimmed))
			}
			continue
		}
		flush()
		line = summaryTag.ReplaceAllString(line, "▸ $1")
		line = htmlTag.ReplaceAllString(line, "")
		line = bold.ReplaceAllString(line, "$1")
		line = strings.ReplaceAll(line, "`", "")
		line = strings.TrimLeft(line, "#")
		if strings.TrimSpace(line) == "" && len(out) > 0 && out[len(out)-1] == "" {
			continue
		}
		out = append(out, strings.TrimRight(strings.TrimPrefix(line, " "), " "))
	}
	flush()
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

// tableCells splits a markdown table row into its cells, without the
// markup inside them.
func tableCells(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	cells := strings.Split(row, "|")
	for i, c := range cells {
		c = htmlTag.ReplaceAllString(c, "")
		c = bold.ReplaceAllString(c, "$1")
		cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "`", ""))
	}
	return cells
}

// alignTable pads each column to its widest cell.
func alignTable(rows [][]string) []string {
	if len(rows) == 0 {
		return nil
	}
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	lines := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		lines = append(lines, b.String())
	}
	return lines
}

// indent prefixes every line of s, and cuts s after max lines with a note
// of how many were left out (none when max is 0).
func indent(s, prefix string, max int) string {
	lines := strings.Split(s, "\n")
	more := 0
	if max > 0 && len(lines) > max {
		more = len(lines) - max
		lines = lines[:max]
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(prefix+l, " ")
	}
	if more > 0 {
		lines = append(lines, prefix+"… "+plural(more, "more line"))
	}
	return strings.Join(lines, "\n")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// addedLines are the lines of after that before does not have, in order,
// for showing what an edited comment added.
func addedLines(before, after string) string {
	had := map[string]int{}
	for _, l := range strings.Split(before, "\n") {
		had[l]++
	}
	var out []string
	for _, l := range strings.Split(after, "\n") {
		if had[l] > 0 {
			had[l]--
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
