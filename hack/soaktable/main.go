// Command soaktable prints the reliability table from the JSON lines the
// soak scenarios wrote (GANTRY_SOAK_TABLE), as Markdown, headed with the
// date and the machine; with -o FILE it also writes it there.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gantryops/gantry/fixtures/soak"
)

// row is a scenario's line, as fixtures/soak writes it.
type row = soak.Row

func main() {
	out := flag.String("o", "", "also write the table to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: soaktable [-o FILE] ROWS.jsonl")
		os.Exit(2)
	}
	rows, err := read(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "soaktable:", err)
		os.Exit(2)
	}
	table := render(rows, machine(), time.Now().UTC())
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(table), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "soaktable:", err)
			os.Exit(2)
		}
	}
}

func read(file string) ([]row, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no scenario reported (did every one fail?)", file)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Scenario < rows[j].Scenario })
	return rows, nil
}

func render(rows []row, machine string, at time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s (%s form).\n\n", at.Format("2006-01-02"), machine, rows[0].Form)
	b.WriteString("| scenario | load | faults injected | outcome | lost or duplicated | peak memory | time |\n|---|---|---|---|---|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f MiB | %.0f s |\n", cell(r.Scenario), cell(r.Load), cell(r.Faults), cell(r.Outcome), cell(r.Lost), r.PeakMiB, r.Seconds)
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

// machine names the CPU and core count, and the memory, from /proc.
func machine() string {
	cpu, mem := "", ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	if cpu == "" {
		cpu = runtime.GOARCH
	}
	return fmt.Sprintf("%s, %d cores%s", cpu, runtime.NumCPU(), mem)
}
