package bot

import (
	"slices"
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
		{"preview the affected apps", "/gantry preview", []Command{{Verb: VerbPreview, Line: 1}}, ""},
		{"preview named apps", "/gantry preview web,api web", []Command{{Verb: VerbPreview, Apps: []string{"web", "api"}, Line: 1}}, ""},
		{"preview off", "/gantry Preview OFF", []Command{{Verb: VerbPreview, Off: true, Line: 1}}, ""},
		{"preview off one app", "/gantry preview off web", []Command{{Verb: VerbPreview, Off: true, Apps: []string{"web"}, Line: 1}}, ""},
		{"preview typo suggests", "/gantry preveiw", nil, "did you mean `/gantry preview`?"},
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

// FuzzParseComment: no comment makes the parser panic, take a command
// from a quote or a code block, or answer with text that could carry a
// marker or break out of a code span.
func FuzzParseComment(f *testing.F) {
	f.Add("/gantry plan web")
	f.Add("/gantry approve-policies <!-- gantry:override x y -->")
	f.Add("> /gantry apply\n```\n/gantry unlock\n```\n/gantry aply `x`")
	f.Add("/gantry revert <!--\n/gantry \u200b<!--")
	f.Fuzz(func(t *testing.T, body string) {
		p := ParseComment(body)
		for _, c := range p.Commands {
			if !slices.Contains([]Verb{VerbHelp, VerbPlan, VerbApply, VerbUnlock, VerbApprovePolicies, VerbRevert, VerbPreview}, c.Verb) {
				t.Fatalf("unknown verb %q from %q", c.Verb, body)
			}
		}
		if strings.Contains(p.Reply, "<!--") || strings.Contains(p.Reply, "-->") {
			t.Fatalf("reply carries an HTML comment: %q", p.Reply)
		}
	})
}
