package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadAndRender(t *testing.T) {
	file := filepath.Join(t.TempDir(), "rows.jsonl")
	lines := `{"scenario":"webhook lost","load":"1 PR","faults":"delivery dropped","outcome":"planned by the resync","lost":"none","peakMiB":80.4,"seconds":3.2,"form":"short"}
{"scenario":"burst","load":"2,000 deliveries | 200 PRs","faults":"10% duplicates","outcome":"one comment per PR","lost":"none","peakMiB":301,"seconds":55,"form":"short"}
`
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	rows, err := read(file)
	if err != nil {
		t.Fatal(err)
	}
	got := render(rows, "test CPU, 2 cores", time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC))
	want := "Measured 2026-11-29 on test CPU, 2 cores (short form).\n\n" +
		"| scenario | load | faults injected | outcome | lost or duplicated | peak memory | time |\n|---|---|---|---|---|---:|---:|\n" +
		"| burst | 2,000 deliveries \\| 200 PRs | 10% duplicates | one comment per PR | none | 301 MiB | 55 s |\n" +
		"| webhook lost | 1 PR | delivery dropped | planned by the resync | none | 80 MiB | 3 s |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := read(file); err == nil || !strings.Contains(err.Error(), "no scenario reported") {
		t.Errorf("an empty table: %v", err)
	}
}
