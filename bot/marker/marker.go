// Package marker writes and recognises the state gantry keeps in what it
// posts to GitHub: the parts of its summary comment, policy overrides, and
// later its drift and revert pull requests. A marker is an HTML comment of
// one exact shape at the very start of a body, carrying a payload and an
// HMAC under a server-side key over the marker's kind, its scope (the
// pull request it belongs to) and the payload. Nothing a user can write,
// and nothing gantry echoes back, passes for one: recognition never goes
// by shape alone.
package marker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// prefix opens every marker; the kind follows it.
const prefix = "<!-- gantry:"

// sigLen is how many bytes of the HMAC a marker carries: 128 bits.
const sigLen = 16

// Kinds of marker.
const (
	// KindPart marks part n of gantry's summary comment on a pull request.
	KindPart = "part"
	// KindOverride records a policy override approved by a command.
	KindOverride = "override"
	// KindDrift opens the body of a drift pull request gantry opened.
	KindDrift = "drift"
	// KindRevert opens the body of a revert pull request gantry opened.
	KindRevert = "revert"
	// KindPromote opens the body of a promotion pull request gantry
	// opened.
	KindPromote = "promote"
)

// Sealer makes and checks markers under one key. The zero value is not
// usable; make one with New.
type Sealer struct{ key []byte }

// New returns a Sealer whose key is derived from secret (the App's private
// key, which every replica of one installation of gantry shares), so that
// markers made by one replica are recognised by the others and by no one
// without the secret.
func New(secret []byte) *Sealer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("gantry marker key v1"))
	return &Sealer{key: m.Sum(nil)}
}

// Scope names what a marker belongs to: a marker made for one pull
// request is not valid on another.
func Scope(owner, repo string, pr int) string {
	return fmt.Sprintf("%s/%s#%d", strings.ToLower(owner), strings.ToLower(repo), pr)
}

func (s *Sealer) sign(kind, scope string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:sigLen]
}

// Seal returns the marker of kind for scope carrying v (encoded as JSON):
// one line, to be placed at the very start of a body.
func (s *Sealer) Seal(kind, scope string, v any) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal %s marker: %w", kind, err)
	}
	enc := base64.RawURLEncoding
	return prefix + kind + " " + enc.EncodeToString(payload) + " " + enc.EncodeToString(s.sign(kind, scope, payload)) + " -->", nil
}

// MustSeal is Seal for payloads that always encode (plain structs of
// strings and numbers).
func (s *Sealer) MustSeal(kind, scope string, v any) string {
	m, err := s.Seal(kind, scope, v)
	if err != nil {
		panic(err)
	}
	return m
}

// Open checks that body starts with a marker of kind for scope made under
// this Sealer's key and decodes its payload into v. It reports false for
// anything else: another kind or scope, a forged or altered signature, a
// marker that is not on the first line, or a payload that does not decode.
func (s *Sealer) Open(kind, scope, body string, v any) bool {
	line, _, _ := strings.Cut(body, "\n")
	line = strings.TrimSuffix(line, "\r")
	rest, ok := strings.CutPrefix(line, prefix+kind+" ")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, " -->")
	if !ok {
		return false
	}
	p, sig, ok := strings.Cut(rest, " ")
	if !ok || strings.Contains(sig, " ") {
		return false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	got, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, s.sign(kind, scope, payload)) {
		return false
	}
	return json.Unmarshal(payload, v) == nil
}

// Len is the length of a marker of kind for payload v, for layouts that
// must reserve room for it.
func (s *Sealer) Len(kind string, v any) int {
	return len(s.MustSeal(kind, "", v))
}

// maxQuote bounds how much of a user's text gantry echoes back.
const maxQuote = 120

// Quote makes user text safe to echo inside a code span of gantry's own
// comments: one line, at most maxQuote characters, no control characters,
// no backtick to break out of the span, and never the opening or closing
// of an HTML comment, so an echo can neither carry nor imitate a marker.
func Quote(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.Is(unicode.Cf, r) {
			continue // invisible: zero-width and direction marks
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if r == '`' {
			r = '\''
		}
		b.WriteRune(r)
	}
	out := b.String()
	// Break every "<!--" and "-->" (and their overlapping forms) by
	// separating the dashes; repeat until none is left. Cutting the result
	// short below cannot make one again.
	for strings.Contains(out, "<!-") || strings.Contains(out, "-->") {
		out = strings.ReplaceAll(out, "<!-", "<! -")
		out = strings.ReplaceAll(out, "-->", "- ->")
	}
	if r := []rune(out); len(r) > maxQuote {
		out = string(r[:maxQuote]) + "…"
	}
	return out
}
