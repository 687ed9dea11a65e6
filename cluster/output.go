package cluster

import (
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
)

// Format is an output format of the CLI.
type Format string

// The output formats.
const (
	FormatText     Format = "text"
	FormatMarkdown Format = "markdown"
	FormatJSON     Format = "json"
)

// ParseFormat checks a -o flag value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatText, FormatMarkdown, FormatJSON:
		return f, nil
	case "":
		return FormatText, nil
	}
	return "", fmt.Errorf("unknown output format %q (want text, markdown or json)", s)
}

// WriteDiff writes the diffs of several apps in format. Secret values are
// never in a DiffSet, so never in any format.
func WriteDiff(w io.Writer, format Format, sets []*DiffSet) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, sets)
	case FormatMarkdown:
		return writeDiffMarkdown(w, sets)
	case FormatText, "":
		return writeDiffText(w, sets)
	}
	return fmt.Errorf("unknown output format %q", format)
}

// WriteApply writes the outcome of applying several apps in format.
func WriteApply(w io.Writer, format Format, sets []*ChangeSet) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, sets)
	case FormatMarkdown:
		return writeApplyMarkdown(w, sets)
	case FormatText, "":
		return writeApplyText(w, sets)
	}
	return fmt.Errorf("unknown output format %q", format)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// summary names the changed fields of an object for a one-line heading:
// the keys of a Secret, the last parts of other paths.
func summary(d ObjectDiff) string {
	if d.Error != "" {
		return "error"
	}
	s := string(d.Action)
	if len(d.Changed) == 0 || d.Action != ActionUpdate {
		return s
	}
	var names []string
	seen := map[string]bool{}
	for _, p := range d.Changed {
		n := p
		if isSecret(d.Object) && (strings.HasPrefix(p, "data.") || strings.HasPrefix(p, "stringData.")) {
			n = p[strings.Index(p, ".")+1:]
		} else if i := strings.LastIndex(p, "."); i >= 0 {
			n = p[i+1:]
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) > 5 {
		names = append(names[:5], "…")
	}
	if isSecret(d.Object) {
		return s + " (keys changed: " + strings.Join(names, ", ") + ")"
	}
	return s + " (" + strings.Join(names, ", ") + ")"
}

var actionMark = map[Action]string{ActionCreate: "+", ActionUpdate: "~", ActionDelete: "-", ActionUnchanged: "=", ActionConflict: "x"}

func writeDiffText(w io.Writer, sets []*DiffSet) error {
	var b strings.Builder
	for _, s := range sets {
		c := s.Counts()
		fmt.Fprintf(&b, "app %s: %d create, %d update, %d delete, %d unchanged, %d conflicts, %d errors\n", s.App, c.Create, c.Update, c.Delete, c.Unchanged, c.Conflict, c.Errors)
		if s.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", s.Error)
		}
		if len(s.Hooks) > 0 {
			hooks := make([]string, len(s.Hooks))
			for i, h := range s.Hooks {
				hooks[i] = h.String()
			}
			fmt.Fprintf(&b, "  hooks: %s\n", strings.Join(hooks, ", "))
		}
		if u := unstableText(s.Objects); u != "" {
			fmt.Fprintf(&b, "  not deterministic: %s\n", u)
		}
		for _, o := range s.Objects {
			if o.Action == ActionUnchanged && o.Error == "" && o.Note == "" {
				continue
			}
			mark := actionMark[o.Action]
			if o.Error != "" {
				mark = "!"
			}
			fmt.Fprintf(&b, "%s %s: %s\n", mark, o.Object, summary(o))
			if o.Note != "" {
				fmt.Fprintf(&b, "    note: %s\n", o.Note)
			}
			if o.Error != "" {
				fmt.Fprintf(&b, "    error: %s%s\n", sourcePrefix(o.Source), o.Error)
			}
			for _, l := range strings.SplitAfter(o.Diff, "\n") {
				if l != "" {
					b.WriteString("    " + l)
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sourcePrefix is "file:line: " before an error, or nothing when the
// object's source is not known.
func sourcePrefix(source string) string {
	if source == "" {
		return ""
	}
	return source + ": "
}

// markdown holds the markdown outputs, parsed once.
var markdown = template.Must(template.New("markdown").Funcs(template.FuncMap{
	"md":         mdInline,
	"summary":    summary,
	"fence":      fence,
	"deletions":  deletions,
	"healthText": healthText,
	"seconds":    func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
}).ParseFS(templateFiles, "templates/*.md.tmpl"))

// templateFiles are the markdown templates; comment markdown lives there,
// not in Go.
//
//go:embed templates/*.md.tmpl
var templateFiles embed.FS

// writeTemplate executes the named template and writes its output whole,
// or nothing on an error.
func writeTemplate(w io.Writer, name string, data any) error {
	var b strings.Builder
	if err := markdown.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("execute template %s: %w", name, err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDiffMarkdown(w io.Writer, sets []*DiffSet) error {
	return writeTemplate(w, "diff.md.tmpl", sets)
}

// deletions lists the objects the app deletes.
func deletions(s *DiffSet) []ObjectRef {
	var out []ObjectRef
	for _, o := range s.Objects {
		if o.Action == ActionDelete && o.Error == "" {
			out = append(out, o.Object)
		}
	}
	return out
}

// fence returns a code fence longer than any run of backticks in text.
func fence(text string) string {
	f := "```"
	for strings.Contains(text, f) {
		f += "`"
	}
	return f
}

// mdInline keeps text on one line and out of HTML.
func mdInline(s string) string {
	return strings.NewReplacer("\n", " ", "<", "&lt;", ">", "&gt;", "|", "\\|").Replace(s)
}

func writeApplyText(w io.Writer, sets []*ChangeSet) error {
	var b strings.Builder
	for _, s := range sets {
		left := ""
		if n := s.Count(ChangeLeft); n > 0 {
			left = fmt.Sprintf(", %d left (not pruned)", n)
		}
		fmt.Fprintf(&b, "app %s: %d created, %d configured, %d unchanged, %d deleted%s, %d failed (%s)\n", s.App,
			s.Count(ChangeCreated), s.Count(ChangeConfigured), s.Count(ChangeUnchanged), s.Count(ChangeDeleted), left, s.Count(ChangeFailed), s.Duration.Round(1e6))
		if s.Error != "" {
			fmt.Fprintf(&b, "  error: %s\n", s.Error)
		}
		for _, o := range s.Objects {
			if o.Action == ChangeUnchanged {
				continue
			}
			fmt.Fprintf(&b, "  %s %s", o.Object, o.Action)
			if o.Note != "" {
				fmt.Fprintf(&b, " (%s)", o.Note)
			}
			if o.Error != "" {
				fmt.Fprintf(&b, ": %s%s", sourcePrefix(o.Source), o.Error)
			}
			b.WriteString("\n")
		}
		for _, h := range s.Hooks {
			writeHookText(&b, h)
		}
		writeHealthText(&b, s.Health)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHookText writes one hook's outcome on one line.
func writeHookText(b *strings.Builder, h HookResult) {
	fmt.Fprintf(b, "  hook %s: %s", h.HookPlan, h.Result)
	if h.Result != HookNotRun {
		fmt.Fprintf(b, " in %s", h.Duration.Round(1e6))
	}
	if h.Deleted {
		b.WriteString(", deleted by its delete policy")
	}
	if h.Note != "" {
		fmt.Fprintf(b, " (%s)", h.Note)
	}
	if h.Error != "" {
		fmt.Fprintf(b, ": %s", h.Error)
	}
	b.WriteString("\n")
}

func writeHealthText(b *strings.Builder, h *Health) {
	if h == nil {
		return
	}
	if h.Healthy {
		fmt.Fprintf(b, "  healthy: %d objects ready\n", h.Ready)
		return
	}
	fmt.Fprintf(b, "  unhealthy: %d of %d objects", len(h.Unhealthy), len(h.Unhealthy)+h.Ready)
	if h.TimedOut {
		fmt.Fprintf(b, " still not ready at the health timeout (%s)", h.Timeout)
	}
	b.WriteString("\n")
	for _, u := range h.Unhealthy {
		fmt.Fprintf(b, "  %s %s: %s\n", u.Object, u.Status, u.Message)
		for _, c := range u.Conditions {
			fmt.Fprintf(b, "    condition %s=%s %s: %s\n", c.Type, c.Status, c.Reason, c.Message)
		}
		for _, p := range u.Pods {
			fmt.Fprintf(b, "    %s\n", p)
		}
		for _, e := range u.Events {
			fmt.Fprintf(b, "    event %s\n", e)
		}
	}
}

// WriteWaitProgress writes one line of a wait's progress: how many
// objects are ready and, for each of the others, its status and why.
func WriteWaitProgress(w io.Writer, app string, p WaitProgress) error {
	var b strings.Builder
	fmt.Fprintf(&b, "app %s: waiting for health, %d of %d objects ready (%s of %s)", app, p.Ready, p.Total, p.Elapsed.Round(time.Second), p.Timeout)
	for _, o := range p.Pending {
		fmt.Fprintf(&b, "; %s %s", o.Object, o.Status)
		if o.Message != "" {
			fmt.Fprintf(&b, ": %s", o.Message)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeApplyMarkdown(w io.Writer, sets []*ChangeSet) error {
	return writeTemplate(w, "apply.md.tmpl", sets)
}

// healthText is the text output of a wait, for the markdown one.
func healthText(h *Health) string {
	var b strings.Builder
	writeHealthText(&b, h)
	return b.String()
}
