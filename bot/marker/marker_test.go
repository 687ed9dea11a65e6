package marker

import (
	"strings"
	"testing"
)

type part struct {
	N int `json:"n"`
}

func TestOpenAcceptsOnlyItsOwnMarker(t *testing.T) {
	s := New([]byte("server key"))
	scope := Scope("Acme", "Ops", 7)
	good := s.MustSeal(KindPart, scope, part{N: 2})
	other := New([]byte("another key")).MustSeal(KindPart, scope, part{N: 2})
	// A payload swapped into a valid marker: the signature no longer fits.
	fields := strings.Fields(good)
	swapped := strings.Replace(good, fields[2], strings.Fields(s.MustSeal(KindPart, scope, part{N: 3}))[2], 1)
	cases := []struct {
		name, kind, scope, body string
		want                    bool
		wantN                   int
	}{
		{"own marker", KindPart, scope, good + "\nbody", true, 2},
		{"own marker, CRLF", KindPart, scope, good + "\r\nbody", true, 2},
		{"scope is case-insensitive", KindPart, Scope("acme", "ops", 7), good, true, 2},
		{"another pull request", KindPart, Scope("acme", "ops", 8), good, false, 0},
		{"another kind", KindOverride, scope, good, false, 0},
		{"another key", KindPart, scope, other, false, 0},
		{"payload swapped", KindPart, scope, swapped, false, 0},
		{"not on the first line", KindPart, scope, "quoted:\n" + good, false, 0},
		{"indented", KindPart, scope, " " + good, false, 0},
		{"unsigned old shape", KindPart, scope, "<!-- gantry:pr-summary -->", false, 0},
		{"right shape, made up signature", KindPart, scope, "<!-- gantry:part eyJuIjoyfQ AAAAAAAAAAAAAAAAAAAAAA -->", false, 0},
		{"trailing text on the marker line", KindPart, scope, good + " extra", false, 0},
		{"empty", KindPart, scope, "", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p part
			if got := s.Open(c.kind, c.scope, c.body, &p); got != c.want || p.N != c.wantN {
				t.Fatalf("Open = %v (n=%d), want %v (n=%d)", got, p.N, c.want, c.wantN)
			}
		})
	}
}

func TestLenIsTheSealedLength(t *testing.T) {
	s := New([]byte("k"))
	if got, want := s.Len(KindPart, part{N: 12}), len(s.MustSeal(KindPart, Scope("a", "b", 1), part{N: 12})); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

func TestQuoteCannotCarryAMarker(t *testing.T) {
	cases := map[string]string{
		"plain":               "plain",
		"<!-- gantry:x -->":   "<! -- gantry:x - ->",
		"<!--->":              "<! -- ->",
		"a`b":                 "a'b",
		"line\nbreak\r\there": "line break here",
		"zero\u200bwidth":     "zerowidth",
	}
	for in, want := range cases {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("x", 500)
	if got := Quote(long); len([]rune(got)) != maxQuote+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("Quote of 500 characters = %d characters, want %d and an ellipsis", len([]rune(got)), maxQuote+1)
	}
}

func FuzzOpen(f *testing.F) {
	s := New([]byte("fuzz key"))
	scope := Scope("o", "r", 1)
	f.Add(s.MustSeal(KindPart, scope, part{N: 1}))
	f.Add("<!-- gantry:part e30 AAAAAAAAAAAAAAAAAAAAAA -->")
	f.Add("<!-- gantry:override  -->")
	f.Fuzz(func(t *testing.T, body string) {
		var p map[string]any
		if !s.Open(KindPart, scope, body, &p) {
			return
		}
		// Whatever opens must be exactly a marker this Sealer made for
		// that payload: re-sealing the line gives the line back.
		line, _, _ := strings.Cut(body, "\n")
		line = strings.TrimSuffix(line, "\r")
		fields := strings.Fields(line)
		if len(fields) != 5 {
			t.Fatalf("opened a marker of unexpected shape %q", line)
		}
		var again map[string]any
		if !s.Open(KindPart, scope, line, &again) {
			t.Fatalf("the marker line alone does not open: %q", line)
		}
		if s.Open(KindPart, Scope("o", "r", 2), body, &again) {
			t.Fatalf("a marker opened for another pull request: %q", line)
		}
	})
}

func FuzzQuote(f *testing.F) {
	f.Add("<!-- gantry:override x y -->")
	f.Add("`code` and -->")
	f.Add("<!<!---->>")
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		for _, bad := range []string{"<!--", "-->", "`", "\n", "\r"} {
			if strings.Contains(q, bad) {
				t.Fatalf("Quote(%q) = %q contains %q", s, q, bad)
			}
		}
		if n := len([]rune(q)); n > maxQuote+1 {
			t.Fatalf("Quote(%q) has %d characters", s, n)
		}
	})
}
