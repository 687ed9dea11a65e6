package bot

import (
	"fmt"
	"strings"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/config"
)

// Verb is a `/gantry` comment command's name.
type Verb string

// The comment commands.
const (
	VerbHelp            Verb = "help"
	VerbPlan            Verb = "plan"
	VerbApply           Verb = "apply"
	VerbUnlock          Verb = "unlock"
	VerbApprovePolicies Verb = "approve-policies"
	VerbRevert          Verb = "revert"
	VerbPreview         Verb = "preview"
)

// verbs in the order help lists them.
var verbs = []Verb{VerbHelp, VerbPlan, VerbApply, VerbUnlock, VerbApprovePolicies, VerbRevert, VerbPreview}

// Command is one `/gantry` line of a comment.
type Command struct {
	Verb Verb
	// Apps named after plan, apply and unlock; empty means every app the
	// pull request touches.
	Apps []string
	// Reason given to approve-policies.
	Reason string
	// Off asks `/gantry preview off [app…]` to delete previews.
	Off bool
	// Line is the 1-based line of the comment the command is on.
	Line int
}

// Parsed is what a comment asks of gantry: commands to run, or a reply
// that explains why none can run (an unknown command, a missing reason).
type Parsed struct {
	Commands []Command
	// Reply is markdown to answer with at once; empty when there is
	// nothing to say.
	Reply string
}

// ParseComment finds the commands in a comment body. A command is a line
// that starts with `/gantry` (any case, after indentation), outside fenced
// code blocks and block quotes, so quoting a command never runs it.
func ParseComment(body string) Parsed {
	var p Parsed
	var problems []string
	fence := ""
	for i, raw := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		line := strings.TrimSpace(raw)
		if f := fenceOf(line); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence) && strings.TrimLeft(line, string(fence[0])) == "":
				fence = ""
			}
			continue
		}
		if fence != "" || strings.HasPrefix(line, ">") || strings.HasPrefix(raw, "    ") || strings.HasPrefix(raw, "\t") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.EqualFold(fields[0], "/gantry") {
			continue
		}
		cmd, problem := parseCommand(fields[1:], i+1)
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		p.Commands = append(p.Commands, cmd)
	}
	if len(problems) > 0 {
		p.Reply = strings.Join(problems, "\n\n") + "\n\n" + HelpText()
	}
	return p
}

// fenceOf returns the fence (``` or ~~~, possibly longer) a line opens or
// closes, or "".
func fenceOf(line string) string {
	for _, c := range []string{"`", "~"} {
		if strings.HasPrefix(line, c+c+c) {
			n := len(line) - len(strings.TrimLeft(line, c))
			return strings.Repeat(c, n)
		}
	}
	return ""
}

func parseCommand(args []string, line int) (Command, string) {
	if len(args) == 0 {
		return Command{Verb: VerbHelp, Line: line}, ""
	}
	verb := Verb(strings.ToLower(args[0]))
	rest := args[1:]
	switch verb {
	case VerbHelp:
		return Command{Verb: verb, Line: line}, ""
	case VerbPlan, VerbApply, VerbUnlock:
		return Command{Verb: verb, Apps: dedupe(rest), Line: line}, ""
	case VerbPreview:
		if len(rest) > 0 && strings.EqualFold(rest[0], "off") {
			return Command{Verb: verb, Off: true, Apps: dedupe(rest[1:]), Line: line}, ""
		}
		return Command{Verb: verb, Apps: dedupe(rest), Line: line}, ""
	case VerbApprovePolicies:
		if len(rest) == 0 {
			return Command{}, "`/gantry approve-policies` needs a reason, e.g. `/gantry approve-policies hotfix for INC-412`: it is recorded in the policy check."
		}
		return Command{Verb: verb, Reason: strings.Join(rest, " "), Line: line}, ""
	case VerbRevert:
		if len(rest) > 0 {
			return Command{}, fmt.Sprintf("`/gantry revert` takes no arguments (got `%s`).", marker.Quote(strings.Join(rest, " ")))
		}
		return Command{Verb: verb, Line: line}, ""
	}
	if hint := suggestVerb(string(verb)); hint != "" {
		return Command{}, fmt.Sprintf("`/gantry %s` is not a command%s", marker.Quote(args[0]), hint)
	}
	return Command{}, fmt.Sprintf("`/gantry %s` is not a command.", marker.Quote(args[0]))
}

func dedupe(apps []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range apps {
		for _, part := range strings.Split(a, ",") {
			if part != "" && !seen[part] {
				seen[part] = true
				out = append(out, part)
			}
		}
	}
	return out
}

// suggestVerb returns "; did you mean `/gantry x`?" for a near miss.
// A verb that got begins (3 letters or more) wins over edit distance.
func suggestVerb(got string) string {
	for _, v := range verbs {
		if len(got) >= 3 && strings.HasPrefix(string(v), got) {
			return fmt.Sprintf("; did you mean `/gantry %s`?", v)
		}
	}
	names := make([]string, len(verbs))
	for i, v := range verbs {
		names[i] = string(v)
	}
	best := config.Suggest(got, names)
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean `/gantry %s`?", best)
}

// HelpText is the markdown gantry answers `/gantry help` with.
func HelpText() string {
	return `**gantry commands** (one per line, outside code blocks and quotes):

| command | does |
|---|---|
| ` + "`/gantry plan [app…]`" + ` | render, check policies and diff again (all affected apps by default) |
| ` + "`/gantry apply [app…]`" + ` | apply now, before merge (apps with ` + "`apply: on-command`" + `, or when allowed) |
| ` + "`/gantry unlock [app…]`" + ` | release this pull request's locks |
| ` + "`/gantry approve-policies <reason>`" + ` | override policy denies, recorded with your reason (policy owners only) |
| ` + "`/gantry revert`" + ` | on a drift pull request: restore the cluster to Git now |
| ` + "`/gantry preview [app…]`" + ` | apply the head into a preview namespace of this pull request's own, updated on every push (when the server enables previews) |
| ` + "`/gantry preview off [app…]`" + ` | delete this pull request's previews (closing it does too) |
| ` + "`/gantry help`" + ` | this list |`
}
