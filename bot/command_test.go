package bot

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseComment(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      []Command
		wantReply string // substring of the reply; "" means no reply
	}{
		{"plain text", "LGTM, ship it", nil, ""},
		{"plan all", "/gantry plan", []Command{{Verb: VerbPlan, Line: 1}}, ""},
		{"case and indentation", "thanks!\n  /GANTRY Apply web-prod api", []Command{{Verb: VerbApply, Apps: []string{"web-prod", "api"}, Line: 2}}, ""},
		{"comma lists and duplicates", "/gantry unlock a,b a", []Command{{Verb: VerbUnlock, Apps: []string{"a", "b"}, Line: 1}}, ""},
		{"bare /gantry is help", "/gantry", []Command{{Verb: VerbHelp, Line: 1}}, ""},
		{"approve with reason", "/gantry approve-policies hotfix for INC-412", []Command{{Verb: VerbApprovePolicies, Reason: "hotfix for INC-412", Line: 1}}, ""},
		{"approve without reason", "/gantry approve-policies", nil, "needs a reason"},
		{"revert", "/gantry revert", []Command{{Verb: VerbRevert, Line: 1}}, ""},
		{"revert with args", "/gantry revert now", nil, "takes no arguments"},
		{"inside a fenced block", "try:\n```\n/gantry apply\n```\n", nil, ""},
		{"inside a tilde fence with info string", "~~~sh\n/gantry apply\n~~~\n/gantry plan", []Command{{Verb: VerbPlan, Line: 4}}, ""},
		{"after a fence closes", "```\nx\n```\n/gantry plan web", []Command{{Verb: VerbPlan, Apps: []string{"web"}, Line: 4}}, ""},
		{"quoted", "> /gantry apply\nI disagree", nil, ""},
		{"indented code block", "example:\n\n    /gantry apply", nil, ""},
		{"not at line start", "please run /gantry apply", nil, ""},
		{"prefix of another word", "/gantryfoo apply", nil, ""},
		{"typo suggests", "/gantry aply", nil, "did you mean `/gantry apply`?"},
		{"prefix suggests", "/gantry approve", nil, "did you mean `/gantry approve-policies`?"},
		{"unknown without suggestion", "/gantry destroy-everything", nil, "is not a command."},
		{"two commands", "/gantry plan a\r\n/gantry unlock b", []Command{{Verb: VerbPlan, Apps: []string{"a"}, Line: 1}, {Verb: VerbUnlock, Apps: []string{"b"}, Line: 2}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseComment(tt.body)
			if diff := cmp.Diff(tt.want, got.Commands); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantReply == "" && got.Reply != "":
				t.Errorf("unexpected reply %q", got.Reply)
			case tt.wantReply != "" && !strings.Contains(got.Reply, tt.wantReply):
				t.Errorf("reply %q does not contain %q", got.Reply, tt.wantReply)
			case tt.wantReply != "" && !strings.Contains(got.Reply, "gantry commands"):
				t.Errorf("reply to a bad command lacks the help: %q", got.Reply)
			}
		})
	}
}
