package config

import "path"

// RoleRank orders GitHub's repository roles; an unknown role ranks below
// read.
func RoleRank(role string) int {
	for i, r := range repositoryRoles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// Grant is who is asking: a login, the teams ("org/slug") they belong to,
// and their role on the repository.
type Grant struct {
	Login string
	Teams []string
	Role  string
}

// Allows reports whether the permissions let who run cmd on app (app ""
// means a command about no particular app, e.g. a plan of every app).
func (s *Server) Allows(who Grant, cmd Command, app string) bool {
	for _, p := range s.Permissions {
		if !p.grants(cmd) || !p.covers(app) {
			continue
		}
		if p.MinRole != "" && RoleRank(who.Role) >= RoleRank(p.MinRole) {
			return true
		}
		for _, u := range p.Users {
			if u == who.Login {
				return true
			}
		}
		for _, t := range p.Teams {
			for _, mine := range who.Teams {
				if t == mine {
					return true
				}
			}
		}
	}
	return false
}

func (p Permission) grants(cmd Command) bool {
	for _, c := range p.Commands {
		if c == cmd {
			return true
		}
	}
	return false
}

// covers reports whether the rule applies to app; a rule without apps
// covers all, and a command about no app is covered by every rule.
func (p Permission) covers(app string) bool {
	if len(p.Apps) == 0 || app == "" {
		return true
	}
	for _, g := range p.Apps {
		if ok, _ := path.Match(g, app); ok {
			return true
		}
	}
	return false
}
