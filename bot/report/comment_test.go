package report

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/fixtures/golden"
)

func sampleReport() Report {
	return Report{
		HeadSHA:    "4f2c1a9d0e",
		RenderTime: 1200 * time.Millisecond,
		DiffTime:   900 * time.Millisecond,
		Apps: []App{{
			Name: "web-prod", Cluster: "prod", LockedByThis: true,
			Objects: []Object{
				{Kind: "Deployment", Namespace: "web", Name: "frontend", Action: Update, Fields: []string{"spec.replicas", "spec.template"},
					Diff: " spec:\n-  replicas: 3\n+  replicas: 5\n"},
				{Kind: "Secret", Namespace: "web", Name: "session", Action: Update, SecretKeys: []string{"SIGNING_KEY"},
					Diff: " data:\n-  SIGNING_KEY: (before: hidden)\n+  SIGNING_KEY: (after: hidden, changed)\n"},
				{Kind: "ConfigMap", Namespace: "web", Name: "legacy-flags", Action: Delete, Diff: "-data:\n-  a: b\n"},
				{Kind: "Service", Namespace: "web", Name: "frontend", Action: Unchanged},
			},
			Hooks: []Hook{
				{Phase: "pre-upgrade", Kind: "Job", Namespace: "web", Name: "migrate", Weight: -5},
				{Phase: "post-upgrade", Kind: "Job", Namespace: "web", Name: "smoke"},
			},
			Findings: []Finding{{App: "web-prod", Kind: "Deployment", Namespace: "web", Name: "frontend", File: "apps/web/prod/deploy.yaml", Line: 12,
				Policy: "prod/images.rego", Rule: "deny", Severity: "deny", Message: "images must be pinned by digest in prod"}},
		}, {
			Name: "api-staging", Cluster: "staging", LockedBy: 12,
			Objects: []Object{{Kind: "ConfigMap", Namespace: "api", Name: "flags", Action: Create, Diff: "+data:\n+  x: \"1\"\n"}},
			Findings: []Finding{{App: "api-staging", Kind: "ConfigMap", Namespace: "api", Name: "flags", File: "apps/api/cm.yaml", Line: 1,
				Policy: "labels.rego", Rule: "warn", Severity: "warn", Message: "no owner label"}},
		}},
	}
}

func TestCommentGolden(t *testing.T) {
	errored := Report{HeadSHA: "abcdef0123", Apps: []App{
		{Name: "broken", Cluster: "prod", Error: &Problem{Message: "render: apps/broken/deploy.yaml:7: mapping values are not allowed here", File: "apps/broken/deploy.yaml", Line: 7}},
		{Name: "rejected", Cluster: "prod", Objects: []Object{{Kind: "Deployment", Namespace: "x", Name: "y", Action: Create,
			Error: &Problem{Message: "spec.replicas: Invalid value: -1: must be greater than or equal to 0", File: "apps/x/d.yaml", Line: 3}}}},
	}}
	for name, r := range map[string]Report{"comment-typical.md": sampleReport(), "comment-errors.md": errored, "comment-empty.md": {HeadSHA: "0000000"}} {
		t.Run(name, func(t *testing.T) {
			parts := Comment(r, testMark)
			if len(parts) != 1 {
				t.Fatalf("%d parts, want 1", len(parts))
			}
			golden.Check(t, name, parts[0])
		})
	}
}

func TestCommentSummaryFirst(t *testing.T) {
	body := Comment(sampleReport(), testMark)[0]
	order := []string{testMark(1), "2 apps change · 1 policy failure", "| web-prod | prod | 0 | 2 | 1 | 1 | ❌ 1 deny |",
		"**Deletions:** `web-prod` deletes `ConfigMap web/legacy-flags`",
		"**Hooks:** `web-prod` runs pre-upgrade `Job web/migrate` (weight -5), post-upgrade `Job web/smoke` (weight 0)", "**Policy** — `deny` web-prod", "<details>", "🔒 `web-prod` is locked by this PR", "head 4f2c1a9"}
	at := 0
	for _, s := range order {
		i := strings.Index(body[at:], s)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", s, body)
		}
		at += i
	}
	if strings.Contains(body, "Service web/frontend · unchanged") {
		t.Error("unchanged objects get no diff section")
	}
	if !strings.Contains(body, "keys changed: <code>SIGNING_KEY</code>") {
		t.Error("secret's changed keys not named in its summary line")
	}
}

var (
	detailsOpen  = regexp.MustCompile(`(?m)^<details>`)
	detailsClose = regexp.MustCompile(`(?m)^</details>`)
	fenceLine    = regexp.MustCompile("(?m)^(`{3,})")
)

// checkWellFormed asserts a part never splits a fence or a <details>.
func checkWellFormed(t *testing.T, i int, p string) {
	t.Helper()
	if o, c := len(detailsOpen.FindAllString(p, -1)), len(detailsClose.FindAllString(p, -1)); o != c {
		t.Errorf("part %d: %d <details> but %d </details>", i+1, o, c)
	}
	var open string
	for _, m := range fenceLine.FindAllStringSubmatch(p, -1) {
		switch {
		case open == "":
			open = m[1]
		case m[1] == open:
			open = ""
		}
	}
	if open != "" {
		t.Errorf("part %d leaves a %s fence open", i+1, open)
	}
	if len(p) > MaxCommentSize {
		t.Errorf("part %d is %d bytes, over GitHub's %d", i+1, len(p), MaxCommentSize)
	}
}

func TestCommentSplitsPastTheLimit(t *testing.T) {
	r := Report{HeadSHA: "feedface00"}
	for a := range 3 {
		app := App{Name: fmt.Sprintf("app-%d", a), Cluster: "prod"}
		for o := range 100 {
			var diff strings.Builder
			for l := range 40 {
				fmt.Fprintf(&diff, "-  line%d: %s\n+  line%d: %s\n", l, strings.Repeat("x", 20), l, strings.Repeat("y", 20))
			}
			app.Objects = append(app.Objects, Object{Kind: "ConfigMap", Namespace: "ns", Name: fmt.Sprintf("cm-%03d", o), Action: Update, Diff: diff.String()})
		}
		r.Apps = append(r.Apps, app)
	}
	parts := Comment(r, testMark)
	if len(parts) < 3 {
		t.Fatalf("%d parts for ~%d KB of diffs, want several", len(parts), 300*40*2*35/1000)
	}
	if !strings.HasPrefix(parts[0], testMark(1)) || !strings.Contains(parts[0], fmt.Sprintf("_Continued in %d more comments below._", len(parts)-1)) {
		t.Errorf("first part lacks the marker or the continuation note:\n%s", parts[0][:500])
	}
	if !strings.Contains(parts[0], "| app-2 | prod | 0 | 100 | 0 | 0 | ✅ |") {
		t.Error("first part lacks the full summary table")
	}
	seen := map[string]int{}
	name := regexp.MustCompile(`ConfigMap ns/(cm-\d+) · update`)
	for i, p := range parts {
		checkWellFormed(t, i, p)
		if i > 0 && !strings.HasPrefix(p, testMark(i+1)) {
			t.Errorf("part %d does not start with its marker", i+1)
		}
		for _, m := range name.FindAllStringSubmatch(p, -1) {
			seen[m[1]]++
		}
	}
	if len(seen) != 100 {
		t.Errorf("%d distinct objects across parts, want 100", len(seen))
	}
	for k, n := range seen {
		if n != 3 { // one per app
			t.Errorf("%s appears %d times, want 3", k, n)
		}
	}
}

func TestCommentFencesAndTruncation(t *testing.T) {
	huge := strings.Repeat("+  "+strings.Repeat("z", 100)+"\n", 1200) // ~125 KB alone
	r := Report{HeadSHA: "1234567", Apps: []App{{Name: "a", Cluster: "c", Objects: []Object{
		{Kind: "ConfigMap", Namespace: "n", Name: "readme", Action: Update, Diff: "+  doc: |\n+    ```sh\n+    make run\n+    ```\n"},
		{Kind: "ConfigMap", Namespace: "n", Name: "huge", Action: Create, Diff: huge},
	}}}}
	parts := Comment(r, testMark)
	for i, p := range parts {
		checkWellFormed(t, i, p)
	}
	all := strings.Join(parts, "\n")
	if !strings.Contains(all, "````diff\n+  doc: |\n+    ```sh") {
		t.Error("a diff containing ``` is not fenced with a longer fence")
	}
	if !regexp.MustCompile(`_\d+ more lines not shown`).MatchString(all) {
		t.Error("an oversized diff is not truncated with a note")
	}
}

// testMark stands in for the bot's sealed markers: as long as a real one,
// so the splitting reserves the same room.
func testMark(n int) string {
	return fmt.Sprintf("<!-- gantry:part %s -->", strings.Repeat(fmt.Sprint(n%10), 60))
}

// FuzzComment: whatever a pull request or a cluster puts into names,
// messages and diffs, every part fits GitHub's limit, opens with its own
// marker and holds no other HTML comment outside code blocks, so nothing
// can hide what follows or pass for a marker.
func FuzzComment(f *testing.F) {
	f.Add("web", "ConfigMap", "cm", "+a: b\n", "deny", 3)
	f.Add("<!--", "Kind`", "name -->", "```\n<!-- x -->\n", "msg\n<!-- gantry:part x y -->", 200)
	f.Add("a", "b", "c", strings.Repeat("+x\n", 5000), "", 40)
	f.Fuzz(func(t *testing.T, app, kind, name, diff, msg string, objects int) {
		objects = min(max(objects, 0), 40)
		a := App{Name: app, Cluster: "c", Findings: []Finding{{Kind: kind, Name: name, File: name, Line: 1, Severity: "deny", Message: msg}},
			Error: &Problem{Message: msg, File: name}}
		for i := range objects {
			a.Objects = append(a.Objects, Object{Kind: kind, Name: fmt.Sprintf("%s-%d", name, i), Action: Update, Diff: diff, Fields: []string{msg},
				Error: &Problem{Message: msg}})
		}
		r := Report{HeadSHA: "abc", Apps: []App{a}, Errors: []Problem{{Message: msg}}, Override: &Override{By: name, Reason: msg}}
		parts := comment(r, testMark, 20000)
		for i, p := range parts {
			if len(p) > 20000 {
				t.Fatalf("part %d has %d bytes", i+1, len(p))
			}
			if !strings.HasPrefix(p, testMark(i+1)+"\n") {
				t.Fatalf("part %d does not open with its marker", i+1)
			}
			if n := strings.Count(outsideFences(p), "<!--"); n != 1 {
				t.Fatalf("part %d has %d HTML comments outside code blocks:\n%s", i+1, n, p)
			}
		}
	})
}

// outsideFences drops the fenced code blocks of a markdown body.
func outsideFences(s string) string {
	var b strings.Builder
	fence := ""
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
		case fence != "" && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "":
			fence = ""
		case fence == "":
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
