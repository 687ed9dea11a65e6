package config

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gantryops/gantry/excerpt"
)

// goQuoted finds Go-quoted strings in a message.
var goQuoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// FuzzParseRepo parses arbitrary bytes as .gantry.yaml: it never panics,
// and no error quotes more than excerpt.Limit consecutive bytes of the
// input (a .gantry.yaml may be a key or token a pull request pasted).
func FuzzParseRepo(f *testing.F) {
	for _, s := range []string{
		"version: 1\napps:\n  - name: web\n    path: apps/web\n",
		"version: 1\napps:\n  - name: web\n    path: apps/web\n    helm:\n      values: [v.yaml]\n      set: {a.b: \"1\"}\n",
		pemKey,
		"version: " + longToken + "\n",
		"version: 1\napps: *" + longToken + "\n",
		"a: &a [x]\nb: *a\n",
		"version: 1\napps:\n  - name: web\n    path: /" + longToken + "\n    healthTimeout: " + longToken + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseRepo(RepoFileName, data, nil)
		if err == nil {
			return
		}
		// Measured on the message with its quoted excerpts unescaped (an
		// escaped backslash is one byte of the value, not two), and without
		// the delimiters around an excerpt (a space, a quote), which the
		// input may share by chance.
		msg := goQuoted.ReplaceAllStringFunc(err.Error(), func(q string) string {
			if u, err := strconv.Unquote(q); err == nil {
				return "\x00" + u + "\x00"
			}
			return q
		})
		if s := strings.Trim(longestShared(msg, string(data)), " \"'`"); len(s) > excerpt.Limit {
			t.Errorf("error quotes %d consecutive input bytes %q: %v", len(s), s, err)
		}
	})
}
