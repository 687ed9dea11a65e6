package config

import (
	"strings"
	"testing"

	"github.com/gantryops/gantry/excerpt"
)

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
		// The delimiters around an excerpt (a space, a quote) may happen to
		// follow it in the input too: they are not part of the value.
		if s := strings.Trim(longestShared(err.Error(), string(data)), " \"'`"); len(s) > excerpt.Limit {
			t.Errorf("error quotes %d consecutive input bytes %q: %v", len(s), s, err)
		}
	})
}
