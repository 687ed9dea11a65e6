package cluster

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUnifiedHunksOfCreationAndDeletion proves that an empty side of a
// diff has no lines: a creation is "@@ -0,0 +1,N @@", a deletion
// "@@ -1,N +0,0 @@", and no empty context line follows a final newline.
func TestUnifiedHunksOfCreationAndDeletion(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{"creation", "", "a: 1\nb: 2\n", "@@ -0,0 +1,2 @@\n+a: 1\n+b: 2\n"},
		{"creation of one line", "", "a: 1\n", "@@ -0,0 +1 @@\n+a: 1\n"},
		{"deletion", "a: 1\nb: 2\n", "", "@@ -1,2 +0,0 @@\n-a: 1\n-b: 2\n"},
		{"change on the last line", "a: 1\nb: 2\n", "a: 1\nb: 3\n", "@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n"},
		{"no final newline", "x", "y", "@@ -1 +1 @@\n-x\n+y\n"},
		{"unchanged", "a: 1\n", "a: 1\n", ""},
		{"both empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, unified(tt.a, tt.b, 3)); d != "" {
				t.Errorf("unified(%q, %q) (-want +got):\n%s", tt.a, tt.b, d)
			}
		})
	}
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$`)

// hunkRange returns the start and length of one side of a hunk header.
func hunkRange(start, length string) (int, int) {
	s, _ := strconv.Atoi(start)
	if length == "" {
		return s, 1
	}
	l, _ := strconv.Atoi(length)
	return s, l
}

// FuzzUnified checks, for any two texts, that a diff with unbounded
// context is one hunk whose header counts its lines, whose old side
// rebuilds the first text and new side the second, and whose empty side
// is "0,0".
func FuzzUnified(f *testing.F) {
	f.Add("", "a: 1\n")
	f.Add("a: 1\n", "")
	f.Add("a: 1\nb: 2\n", "a: 1\nb: 3\n")
	f.Add("x", "x\n")
	f.Add("\n\n", "\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4096 || len(b) > 4096 {
			return
		}
		out := unified(a, b, 1<<20)
		if strings.Join(textLines(a), "") == strings.Join(textLines(b), "") {
			if out != "" {
				t.Fatalf("equal texts diffed:\n%s", out)
			}
			return
		}
		lines := strings.SplitAfter(out, "\n")
		if lines[len(lines)-1] != "" {
			t.Fatalf("diff does not end with a newline: %q", out)
		}
		lines = lines[:len(lines)-1]
		m := hunkHeader.FindStringSubmatch(strings.TrimSuffix(lines[0], "\n"))
		if m == nil {
			t.Fatalf("first line %q is no hunk header", lines[0])
		}
		var old, neu strings.Builder
		oldN, newN := 0, 0
		for _, l := range lines[1:] {
			switch l[0] {
			case ' ':
				old.WriteString(l[1:])
				neu.WriteString(l[1:])
				oldN++
				newN++
			case '-':
				old.WriteString(l[1:])
				oldN++
			case '+':
				neu.WriteString(l[1:])
				newN++
			default:
				t.Fatalf("line %q is neither context nor change (a second hunk?)", l)
			}
		}
		for _, side := range []struct {
			text, rebuilt, start, length string
			n                            int
		}{{a, old.String(), m[1], m[2], oldN}, {b, neu.String(), m[3], m[4], newN}} {
			s, l := hunkRange(side.start, side.length)
			if l != side.n {
				t.Errorf("header %q counts %d lines, hunk has %d", lines[0], l, side.n)
			}
			if side.text == "" && fmt.Sprintf("%d,%d", s, l) != "0,0" {
				t.Errorf("empty side shown as %d,%d, want 0,0", s, l)
			}
			if want := strings.Join(textLines(side.text), ""); side.rebuilt != want {
				t.Errorf("hunk rebuilds %q, want %q", side.rebuilt, want)
			}
		}
	})
}
