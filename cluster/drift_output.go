package cluster

import (
	"fmt"
	"io"
	"strings"
)

// WriteDrift writes the drift of several apps as text or JSON. Secret
// values are never in a DriftSet's fields, so never in any format.
func WriteDrift(w io.Writer, format Format, sets []*DriftSet) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, sets)
	case FormatText, "":
		return writeDriftText(w, sets)
	}
	return fmt.Errorf("drift output: format %q not offered (want text or json)", format)
}

func writeDriftText(w io.Writer, sets []*DriftSet) error {
	var b strings.Builder
	for _, s := range sets {
		drifted := 0
		for _, o := range s.Objects {
			if o.Drifted() {
				drifted++
			}
		}
		switch {
		case s.Error != "":
			fmt.Fprintf(&b, "app %s: not compared: %s\n", s.App, s.Error)
		case drifted == 0:
			fmt.Fprintf(&b, "app %s: no drift\n", s.App)
		default:
			fmt.Fprintf(&b, "app %s: %d %s drifted\n", s.App, drifted, plural(drifted, "object", "objects"))
		}
		for _, o := range s.Objects {
			switch {
			case o.Error != "":
				fmt.Fprintf(&b, "  %s: error: %s\n", o.Object, o.Error)
			case o.OptedOut:
				fmt.Fprintf(&b, "  %s: not compared (%s: %s)\n", o.Object, DriftAnnotation, DriftIgnore)
			case o.Gone:
				fmt.Fprintf(&b, "  %s: gone (deleted out of band)\n", o.Object)
			default:
				fmt.Fprintf(&b, "  %s\n", o.Object)
				for _, f := range o.Fields {
					fmt.Fprintf(&b, "    %s: %s -> %s, by %s", f.Path, orNone(f.Desired), orNone(f.Live), describeManager(f))
					if f.Operation != "" {
						fmt.Fprintf(&b, " (%s)", f.Operation)
					}
					if f.Conflict {
						b.WriteString(", taken from gantry")
					}
					b.WriteString("\n")
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
