package notify

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// Bounds on untrusted text, in runes.
const (
	maxName    = 200
	maxMessage = 1000
)

// SlackText is the one-paragraph message of ev for Slack's mrkdwn: what
// happened, where, and a link. Every piece of ev's text is made plain and
// escaped, so a repository cannot mention @channel or forge a link.
func SlackText(ev Event) string {
	var b strings.Builder
	b.WriteString(headline(ev))
	where := fmt.Sprintf(" in app %s of %s", code(ev.App), slackEscape(plain(ev.Repository, maxName)))
	if ev.Cluster != "" {
		where += fmt.Sprintf(" on cluster %s", code(ev.Cluster))
	}
	b.WriteString(where)
	if c := plain(ev.Commit, 12); c != "" {
		b.WriteString(" at " + code(strings.TrimSuffix(c, "…")))
	}
	b.WriteString(".")
	if m := plain(ev.Message, maxMessage); m != "" {
		b.WriteString(" " + slackEscape(m))
		if !strings.HasSuffix(m, ".") {
			b.WriteString(".")
		}
	}
	if u := link(ev.URL); u != "" {
		label := "details"
		if ev.PR > 0 {
			label = fmt.Sprintf("pull request #%d", ev.PR)
		}
		// In <url|label> only & < > are special in the URL; link has
		// already refused anything but http(s).
		b.WriteString(fmt.Sprintf(" <%s|%s>", slackEscape(u), label))
	} else if ev.PR > 0 {
		b.WriteString(fmt.Sprintf(" (pull request #%d)", ev.PR))
	}
	return b.String()
}

func headline(ev Event) string {
	switch ev.Kind {
	case Drift:
		return ":warning: *gantry: drift found*"
	case ApplyFailed:
		return ":x: *gantry: apply failed*"
	case RevertOpened:
		return ":leftwards_arrow_with_hook: *gantry: revert pull request opened*"
	}
	return "*gantry: " + slackEscape(plain(string(ev.Kind), maxName)) + "*"
}

// code is s as inline code: plain, escaped, without backticks that would
// end the span.
func code(s string) string {
	s = strings.ReplaceAll(plain(s, maxName), "`", "'")
	if s == "" {
		s = "?"
	}
	return "`" + slackEscape(s) + "`"
}

// slackEscape escapes what Slack's message formatting gives meaning to:
// & < > (control sequences such as <!channel>, <@U123> and links).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// plain makes untrusted text one line of printable characters, at most
// limit runes ("…" marks a cut).
func plain(s string, limit int) string {
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			if n++; n > limit {
				break
			}
			b.WriteByte(' ')
			space = false
		}
		if n++; n > limit {
			break
		}
		b.WriteRune(r)
	}
	out := b.String()
	if n > limit {
		out = strings.TrimRight(out, " ") + "…"
	}
	return out
}

// link is u when it is an absolute http(s) URL, else "".
func link(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	// "|" would end the URL of a Slack link and start its label.
	return strings.ReplaceAll(p.String(), "|", "%7C")
}
