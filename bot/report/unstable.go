package report

import (
	"fmt"
	"strings"

	"github.com/gantryops/gantry/nondet"
)

// unstableGroups are the outcomes in the order a reviewer needs them: a
// value regenerated (a password rotated) first, a kept value last.
var unstableGroups = []struct {
	outcome nondet.Outcome
	label   string
}{
	{nondet.InputsChanged, "⚠️ regenerated, because the chart's inputs changed"},
	{nondet.GeneratedName, "⚠️ generated name, so every apply creates another object (and prune deletes the last one)"},
	{nondet.LiveLacks, "generated, because the live object lacks the field"},
	{nondet.NewObject, "generated for a new object"},
	{nondet.KeptLive, "kept the live value"},
}

// maxUnstableObjects bounds the objects one group names.
const maxUnstableObjects = 10

// maxUnstableFields bounds the fields named for one object.
const maxUnstableFields = 5

// maxUnstablePath bounds the length of one shown field path.
const maxUnstablePath = 120

// unstable says, for one app, which fields its chart renders differently
// every time and what gantry did with them, riskiest first: "`web`
// renders fields differently every time: kept the live value: Secret
// web/auth `password`; …". A Secret's fields are named by key only.
// Empty when the app has none. Text is already defanged (see prepared).
func unstable(a App) string {
	var groups []string
	for _, g := range unstableGroups {
		var objs []string
		for _, o := range a.Objects {
			var fields []string
			for _, f := range o.Unstable {
				if f.Outcome != g.outcome {
					continue
				}
				name := f.Path
				if f.SecretKey != "" {
					name = f.SecretKey
				}
				if r := []rune(name); len(r) > maxUnstablePath {
					name = string(r[:maxUnstablePath]) + "…"
				}
				fields = append(fields, "`"+name+"`")
			}
			if len(fields) > maxUnstableFields {
				fields = append(fields[:maxUnstableFields], fmt.Sprintf("and %d more", len(fields)-maxUnstableFields))
			}
			if len(fields) > 0 {
				objs = append(objs, o.Ref()+" "+strings.Join(fields, ", "))
			}
		}
		if len(objs) == 0 {
			continue
		}
		if len(objs) > maxUnstableObjects {
			objs = append(objs[:maxUnstableObjects], fmt.Sprintf("and %d more objects", len(objs)-maxUnstableObjects))
		}
		groups = append(groups, g.label+": "+strings.Join(objs, "; "))
	}
	if len(groups) == 0 {
		return ""
	}
	return fmt.Sprintf("`%s` renders fields differently every time — %s", a.Name, strings.Join(groups, " · "))
}

// defangUnstable makes the fields' names safe for markdown.
func defangUnstable(fs []nondet.Field) []nondet.Field {
	if fs == nil {
		return nil
	}
	out := make([]nondet.Field, len(fs))
	for i, f := range fs {
		out[i] = nondet.Field{Path: Defang(f.Path), SecretKey: Defang(f.SecretKey), Outcome: f.Outcome}
	}
	return out
}
