package sandbox

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/fixtures/githubsim"
)

func TestReadable(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"sealed marker and heading",
			"<!-- gantry:part 1 abc\nsealed -->\n### gantry · 1 app changes\n", "gantry · 1 app changes"},
		{"table aligned, rule dropped, code marks stripped",
			"| app | cluster | policy |\n|---|---|:---:|\n| `web` | local | ✅ |\n| api | `local` | ❌ 1 deny |\n",
			"app  cluster  policy\nweb  local    ✅\napi  local    ❌ 1 deny"},
		{"details become a line, fenced code indented, markup inside kept",
			"<details><summary>web · Deployment web/frontend · update</summary>\n\n```diff\n-  replicas: 3\n+  replicas: <4>\n```\n</details>\n",
			"▸ web · Deployment web/frontend · update\n\n  -  replicas: 3\n  +  replicas: <4>"},
		{"bold and blank runs collapsed",
			"**What went wrong**\n\n\n\n- web: <b>unhealthy</b>\n", "What went wrong\n\n- web: unhealthy"},
		{"a pipe that is not a table stays", "a | b\n", "a | b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Readable(tt.md)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestIndentCutsLongTextSayingHowMuch(t *testing.T) {
	if got, want := indent("a\nb\nc", "> ", 2), "> a\n> b\n> … 1 more line"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := indent("a\n\nb", "│ ", 0), "│ a\n│\n│ b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAddedLines(t *testing.T) {
	if got, want := addedLines("a\nb\n\nc", "a\nb\n\nnew\n\nc"), "new\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestJudgeChecks(t *testing.T) {
	run := func(name, status, conclusion, title string) githubsim.CheckRun {
		return githubsim.CheckRun{Name: name, Status: status, Conclusion: conclusion, Title: title}
	}
	want := map[string]string{checkDiff: "success", checkPolicy: "failure"}
	tests := []struct {
		name        string
		titleHas    map[string]string
		runs        []githubsim.CheckRun
		done, wrong bool
	}{
		{"none yet", nil, nil, false, false},
		{"one in progress", nil, []githubsim.CheckRun{run(checkDiff, "completed", "success", ""), run(checkPolicy, "in_progress", "", "")}, false, false},
		{"both as wanted", nil, []githubsim.CheckRun{run(checkDiff, "completed", "success", ""), run(checkPolicy, "completed", "failure", "1 deny")}, true, false},
		{"a conclusion not wanted", nil, []githubsim.CheckRun{run(checkDiff, "completed", "failure", ""), run(checkPolicy, "in_progress", "", "")}, false, true},
		{"the newest run counts", nil, []githubsim.CheckRun{run(checkDiff, "completed", "success", ""), run(checkPolicy, "completed", "success", ""), run(checkPolicy, "completed", "failure", "")}, true, false},
		{"an earlier run without the awaited title is waited past", map[string]string{checkPolicy: "overridden"},
			[]githubsim.CheckRun{run(checkDiff, "completed", "success", ""), run(checkPolicy, "completed", "success", "1 deny")}, false, false},
		{"the awaited run with another conclusion", map[string]string{checkPolicy: "overridden"},
			[]githubsim.CheckRun{run(checkDiff, "completed", "success", ""), run(checkPolicy, "completed", "success", "1 deny · overridden by @ada")}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, wrong := judgeChecks(want, tt.titleHas, latestRuns(tt.runs))
			if done != tt.done || wrong != tt.wrong {
				t.Errorf("done, wrong = %v, %v; want %v, %v", done, wrong, tt.done, tt.wrong)
			}
		})
	}
}
