package excerpt

import (
	"strings"
	"testing"
)

func TestCutsToLimitBytesOnACharacterBoundary(t *testing.T) {
	long := strings.Repeat("0", 15) + "З" + strings.Repeat("0", 40) // З is two bytes
	for _, tt := range []struct{ got, want string }{
		{Short("short"), "short"},
		{Short(strings.Repeat("a", 41)), strings.Repeat("a", 40) + "…"},
		{Short(long), strings.Repeat("0", 15) + "З" + strings.Repeat("0", 23) + "…"},
		{Short(strings.Repeat("0", 39) + "З"), strings.Repeat("0", 39) + "…"},
		{Quote("x"), `"x"`},
		{Quote(strings.Repeat("b", 50)), `"` + strings.Repeat("b", 40) + `"…`},
		{Clip(`cannot unmarshal "` + strings.Repeat("s", 60) + `" into int`), `cannot unmarshal "` + strings.Repeat("s", 40) + `…" into int`},
		{Clip("kept 'short' as is"), "kept 'short' as is"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb":                  "a b",
		"  x\r\n\t<!-- y -->\n": "x <!-- y -->",
		"":                      "",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
