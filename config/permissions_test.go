package config

import "testing"

func TestAllows(t *testing.T) {
	s := &Server{Permissions: []Permission{
		{Commands: []Command{CommandPlan, CommandUnlock}, MinRole: "write"},
		{Commands: []Command{CommandApply}, MinRole: "maintain", Apps: []string{"web-*"}},
		{Commands: []Command{CommandApply}, Users: []string{"carol"}, Apps: []string{"api"}},
		{Commands: []Command{CommandApprovePolicies}, Teams: []string{"acme/platform"}},
	}}
	tests := []struct {
		who  Grant
		cmd  Command
		app  string
		want bool
	}{
		{Grant{Login: "w", Role: "write"}, CommandPlan, "api", true},
		{Grant{Login: "a", Role: "admin"}, CommandPlan, "api", true},
		{Grant{Login: "r", Role: "read"}, CommandPlan, "api", false},
		{Grant{Login: "t", Role: "triage"}, CommandUnlock, "", false},
		{Grant{Login: "m", Role: "maintain"}, CommandApply, "web-prod", true},
		{Grant{Login: "m", Role: "maintain"}, CommandApply, "api", false},
		{Grant{Login: "carol", Role: "read"}, CommandApply, "api", true},
		{Grant{Login: "carol", Role: "read"}, CommandApply, "web-prod", false},
		{Grant{Login: "p", Role: "read", Teams: []string{"acme/platform"}}, CommandApprovePolicies, "", true},
		{Grant{Login: "p", Role: "admin"}, CommandApprovePolicies, "", false},
		{Grant{Login: "x", Role: ""}, CommandRevert, "", false},
	}
	for _, tt := range tests {
		if got := s.Allows(tt.who, tt.cmd, tt.app); got != tt.want {
			t.Errorf("Allows(%+v, %s, %q) = %v, want %v", tt.who, tt.cmd, tt.app, got, tt.want)
		}
	}
}
