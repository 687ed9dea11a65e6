package report

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// MaxCommentSize is GitHub's limit on a comment body.
const MaxCommentSize = 65536

// MaxCommentParts bounds the comments one plan posts (about 1.3 MB of
// diffs): each is a content-creating request, which GitHub's secondary
// rate limit allows about 80 of a minute, and a megabytes-long diff is
// read on the run page, not in dozens of comments.
const MaxCommentParts = 20

//go:embed templates/*.tmpl
var templateFS embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"headline":      headline,
	"policyCell":    policyCell,
	"problem":       problemText,
	"offline":       offlineText,
	"deletions":     deletions,
	"unstable":      unstable,
	"removed":       removedText,
	"location":      Location,
	"summaryFields": summaryFields,
	"short":         shortSHA,
	"code":          code,
	"seconds":       func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) },
}).ParseFS(templateFS, "templates/*.tmpl"))

func execute(name string, data any) string {
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		// The templates are embedded and tested; a failure is a bug.
		panic(fmt.Sprintf("report template %s: %v", name, err))
	}
	return b.String()
}

// headline is the comment's one-line verdict.
func headline(r Report) string {
	var parts []string
	changing := 0
	for _, a := range r.Apps {
		if a.Changes() {
			changing++
		}
	}
	switch {
	case changing > 0:
		parts = append(parts, plural(changing, "app")+" change")
		if changing == 1 {
			parts[0] = "1 app changes"
		}
	case len(r.Apps) > r.offlineApps() && !r.Failed():
		parts = append(parts, "no changes")
	}
	if n := r.offlineApps(); n > 0 {
		parts = append(parts, plural(n, "app")+" validated offline")
	}
	if d := r.Denies(); d > 0 {
		parts = append(parts, plural(d, "policy failure"))
	}
	errs := len(r.Errors) + len(r.PolicyErrors)
	for _, a := range r.Apps {
		if a.Error != nil {
			errs++
		}
		for _, o := range a.Objects {
			if o.Error != nil {
				errs++
			}
		}
	}
	if errs > 0 {
		parts = append(parts, plural(errs, "error"))
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, " · ")
}

func policyCell(a App) string {
	d, w := a.Denies(), a.Warnings()
	switch {
	case a.Error != nil:
		return "– (not rendered)"

	case d > 0 && w > 0:
		return fmt.Sprintf("❌ %d deny, %s", d, plural(w, "warning"))
	case d > 0:
		return fmt.Sprintf("❌ %d deny", d)
	case w > 0:
		return "⚠️ " + plural(w, "warning")
	}
	return "✅"
}

func problemText(p *Problem) string {
	if p == nil {
		return ""
	}
	msg := strings.ReplaceAll(strings.TrimSpace(p.Message), "\n", " ")
	if loc := Location(p.File, p.Line); loc != "" && !strings.Contains(msg, loc) {
		return fmt.Sprintf("%s (`%s`)", msg, loc)
	}
	return msg
}

// Location is "file:line", "file", or "" when the place is unknown.
func Location(file string, line int) string {
	switch {
	case file == "":
		return ""
	case line > 0:
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// code is text for inside a code span: on one line, without backticks.
// A hook is not dry-run, so no API server has checked its name yet.
func code(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
}

// deletions lists every deleted object, the riskiest fact of a change.
// removedText says what merging does to the objects of an app the pull
// request removes from .gantry.yaml: nothing, out loud, and how to delete
// them instead.
func removedText(r Removed) string {
	switch {
	case r.Error != "":
		return fmt.Sprintf("what it owns in cluster `%s` could not be read (%s); merging leaves it in place.", r.Cluster, r.Error)
	case r.Objects == 0:
		return fmt.Sprintf("it owns nothing in cluster `%s`.", r.Cluster)
	}
	verb := "stay"
	if r.Objects == 1 {
		verb = "stays"
	}
	return fmt.Sprintf("its %s in cluster `%s` %s there after the merge: gantry does not delete what a removed app applied. "+
		"To delete them, first merge the app with no objects and `allowEmpty: true` (that prunes them), then remove it.", plural(r.Objects, "object"), r.Cluster, verb)
}

func deletions(r Report) string {
	var ds []string
	for _, a := range r.Apps {
		for _, o := range a.Objects {
			if o.Action == Delete {
				ds = append(ds, fmt.Sprintf("`%s` deletes `%s`", a.Name, o.Ref()))
			}
		}
	}
	if len(ds) > 10 {
		ds = append(ds[:10], fmt.Sprintf("and %d more", len(ds)-10))
	}
	return strings.Join(ds, ", ")
}

// summaryFields says why an object's change is interesting.
func summaryFields(o Object) string {
	if len(o.SecretKeys) > 0 {
		return "keys changed: <code>" + strings.Join(o.SecretKeys, "</code>, <code>") + "</code>"
	}
	f := o.Fields
	if len(f) > 4 {
		f = append(f[:4:4], fmt.Sprintf("%d more", len(o.Fields)-4))
	}
	return strings.Join(f, ", ")
}

// fenceFor returns a backtick fence longer than any run of backticks in s,
// so a diff that contains ``` never closes its own code block.
func fenceFor(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// objectBlock renders one object's folded diff, cutting the diff to fit
// within limit bytes when needed.
func objectBlock(app string, o Object, limit int) string {
	diff := strings.TrimRight(o.Diff, "\n")
	if diff == "" {
		diff = "(no textual difference)"
	}
	data := struct {
		App       string
		Object    Object
		Fence     string
		Diff      string
		Truncated int
	}{App: app, Object: o, Fence: fenceFor(diff), Diff: diff}
	block := execute("object", data)
	if len(block) <= limit {
		return block
	}
	lines := strings.Split(diff, "\n")
	over := len(block) - limit + 200 // room for the truncation note
	kept := len(lines)
	for kept > 0 && over > 0 {
		kept--
		over -= len(lines[kept]) + 1
	}
	data.Diff, data.Truncated = strings.Join(lines[:kept], "\n"), len(lines)-kept
	return execute("object", data)
}

// Comment lays out the PR comment for r. It returns one body, or several
// when the whole exceeds GitHub's limit: the first keeps the summary and
// says how many continuations follow. Each body starts with mark(n), its
// part number's marker (made by the caller, which alone can authenticate
// it), so the parts can be found and edited in place. No body exceeds
// MaxCommentSize, and no code fence or <details> is ever split.
func Comment(r Report, mark func(part int) string) []string {
	return comment(r, mark, MaxCommentSize)
}

func comment(r Report, mark func(part int) string, limit int) []string {
	r = r.prepared()
	head := execute("head", struct {
		Marker string
		Report Report
	}{mark(1), r})
	footer := "\n" + execute("footer", struct {
		Report Report
		Locks  string
	}{r, locks(r)})
	// Oversized summaries (thousands of apps) are cut, never split.
	if len(head)+len(footer) > limit/2 {
		head = head[:limit/2-len(footer)-100] + "\n\n_Summary truncated._\n"
	}

	var blocks []string
	for _, a := range r.Apps {
		for _, o := range a.Objects {
			if o.Action == Unchanged || (o.Error != nil && o.Diff == "") {
				continue // nothing to show beyond the error, said above
			}
			blocks = append(blocks, objectBlock(a.Name, o, limit-1000))
		}
	}

	// Reserve room in the first part for the "continued" note and in every
	// continuation for its header and marker; the last part allowed keeps
	// room for the note on the diffs left out.
	reserve := 200 + len(mark(1000))
	const omittedRoom = 300
	parts := []string{head}
	budget := limit - len(footer) - reserve
	omitted := 0
	for i, b := range blocks {
		last := len(parts) - 1
		room := budget
		if len(parts) == MaxCommentParts {
			room -= omittedRoom
		}
		if len(parts[last])+len(b)+1 > room {
			if len(parts) == MaxCommentParts {
				omitted = len(blocks) - i
				break
			}
			parts = append(parts, "")
			budget = limit - reserve
			last++
		}
		parts[last] += "\n" + b
	}
	if omitted > 0 {
		parts[len(parts)-1] += "\n" + execute("omitted", struct {
			More  string
			Parts int
		}{plural(omitted, "more object"), MaxCommentParts})
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		if i == 0 {
			if len(parts) > 1 {
				p += "\n" + execute("continued", plural(len(parts)-1, "more comment"))
			}
			out[0] = p + footer
			continue
		}
		out[i] = execute("part", map[string]any{"Marker": mark(i + 1), "Part": i + 1, "Parts": len(parts), "HeadSHA": r.HeadSHA}) + p
	}
	return out
}

// locks summarises who holds the affected apps' locks.
func locks(r Report) string {
	var mine []string
	var others []string
	for _, a := range r.Apps {
		switch {
		case a.LockedByThis:
			mine = append(mine, "`"+a.Name+"`")
		case a.LockedBy != 0:
			others = append(others, fmt.Sprintf("`%s` is locked by #%d", a.Name, a.LockedBy))
		}
	}
	var s []string
	if len(mine) > 0 {
		verb := "is"
		if len(mine) > 1 {
			verb = "are"
		}
		s = append(s, fmt.Sprintf("🔒 %s %s locked by this PR", strings.Join(mine, ", "), verb))
	}
	if len(others) > 0 {
		s = append(s, "⛔ "+strings.Join(others, ", "))
	}
	return strings.Join(s, " · ")
}
