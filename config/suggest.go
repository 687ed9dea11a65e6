package config

import (
	"fmt"

	"github.com/agnivade/levenshtein"
)

// DidYouMean returns ` (did you mean "x"?)` for the candidate closest to
// got, when one is close enough to be a likely typo, else "".
func DidYouMean(got string, candidates []string) string { return didYouMean(got, candidates) }

func didYouMean(got string, candidates []string) string {
	if best := suggest(got, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// Suggest returns the candidate closest to got when it is a likely typo
// (case-insensitive edit distance), else "".
func Suggest(got string, candidates []string) string { return suggest(got, candidates) }

// suggest returns the candidate closest to got when it is a likely typo.
func suggest(got string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(lower(got), lower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(2, len(got)/3)
	if bestDist > limit {
		return ""
	}
	return best
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
