package config

import (
	"fmt"
	"strings"
)

// SOPSKeys give repositories the age keys that decrypt their
// SOPS-encrypted files. A repository gets the keys of every entry that
// matches it; one that none matches has no key, and its encrypted files
// fail their render by name.
type SOPSKeys struct {
	// Match are "owner/name" globs (path.Match, case-insensitive):
	// "acme/gitops", "acme/*".
	Match []string `yaml:"match"`
	// AgeKeyFile holds age identities (AGE-SECRET-KEY-1…), one per line,
	// as age-keygen writes them.
	AgeKeyFile string `yaml:"ageKeyFile"`
}

// SOPSKeyFiles returns the age key files that decrypt repository's
// ("owner/name") files, in configuration order.
func (s *Server) SOPSKeyFiles(repository string) []string {
	var out []string
	for _, k := range s.SOPS {
		if globAny(k.Match, strings.ToLower(repository), true) {
			out = append(out, k.AgeKeyFile)
		}
	}
	return out
}

// validateSOPS checks the sops entries: each matches repositories and
// names a readable key file (parsed when the server starts).
func validateSOPS(d *decoder, s *Server) {
	for i, k := range s.SOPS {
		f := fmt.Sprintf("sops[%d]", i)
		if len(k.Match) == 0 {
			d.errAt(f+".match", "missing: the repositories these keys decrypt for, as owner/name globs")
		}
		checkRepositoryGlobs(d, f+".match", k.Match)
		if k.AgeKeyFile == "" {
			d.errAt(f+".ageKeyFile", "missing: a file of age identities (age-keygen -o FILE)")
		} else {
			readable(d, f+".ageKeyFile", k.AgeKeyFile, false)
		}
	}
}
