package config

import (
	"fmt"
	"path"
	"strings"
)

// globAny reports whether s matches one of the globs; fold compares
// lower-cased globs (repository names are case-insensitive on GitHub).
func globAny(globs []string, s string, fold bool) bool {
	for _, g := range globs {
		if fold {
			g = strings.ToLower(g)
		}
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// Takes reports whether the match selects an app of repository
// ("owner/name", case-insensitive); an empty list selects everything.
func (m NotificationMatch) Takes(repository, app string) bool {
	return (len(m.Repositories) == 0 || globAny(m.Repositories, strings.ToLower(repository), true)) &&
		(len(m.Apps) == 0 || globAny(m.Apps, app, false))
}

// checkRepositoryGlobs reports each of globs, at field[i], that is not an
// owner/name glob.
func checkRepositoryGlobs(d *decoder, field string, globs []string) {
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || strings.Count(g, "/") != 1 {
			d.errAt(fmt.Sprintf("%s[%d]", field, i), "%q must be an owner/name glob (acme/ops, acme/*, */*)", g)
		}
	}
}

// checkGlobs reports each of globs, at field[i], that is empty or does not
// parse.
func checkGlobs(d *decoder, field string, globs []string) {
	for i, g := range globs {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			d.errAt(fmt.Sprintf("%s[%d]", field, i), "%q is not a valid glob", g)
		}
	}
}
