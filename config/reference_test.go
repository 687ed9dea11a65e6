package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// The configuration reference, docs/configuration.md, is kept honest by
// the tests below: every field the loaders decode has a row, every row is
// a field, each row's type is the field's, a default written as a single
// code span is the loader's default, and every YAML example loads with
// the real strict loader. Its conventions:
//   - `<!-- reference: repo -->` and `<!-- reference: server -->` open the
//     section of .gantry.yaml and of the server file; `<!-- reference: end -->`
//     closes it.
//   - In a section, a table row whose first cell is one code span is a
//     field: | `apps[].helm.values` | list of strings | none | ... |.
//     Its second cell is the type, its third the default.
//   - In a section, every ```yaml block is a whole file of that kind.
const referenceDoc = "../docs/configuration.md"

// refKind is one of the two files the reference documents.
type refKind struct {
	name string       // the section's name: repo or server
	typ  reflect.Type // what the file decodes into
}

var refKinds = []refKind{
	{name: "repo", typ: reflect.TypeOf(Repo{})},
	{name: "server", typ: reflect.TypeOf(Server{})},
}

// fieldInfo is a field as the decoder sees it.
type fieldInfo struct {
	typ  string       // its type as the reference writes it
	goTy reflect.Type // its Go type
}

// fieldPaths lists every YAML path of a configuration type, as the
// decoder reads it (fieldsOf: the same yaml tags), with its type. A list
// of objects adds "[]" to the path of its elements' fields; a map of
// objects adds ".*".
func fieldPaths(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	walkFields(t, "", out)
	return out
}

func walkFields(t reflect.Type, prefix string, out map[string]fieldInfo) {
	idx, names := fieldsOf(t)
	for _, name := range names {
		ft := t.Field(idx[name]).Type
		p := join(prefix, name)
		out[p] = fieldInfo{typ: yamlType(ft), goTy: ft}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case decodesItself(ft):
		case ft.Kind() == reflect.Struct:
			walkFields(ft, p, out)
		case ft.Kind() == reflect.Slice && structElem(ft) != nil:
			walkFields(structElem(ft), p+"[]", out)
		case ft.Kind() == reflect.Map && structElem(ft) != nil:
			walkFields(structElem(ft), p+".*", out)
		}
	}
}

// structElem returns a list's or map's element type when it is a struct
// the decoder walks field by field.
func structElem(t reflect.Type) reflect.Type {
	e := t.Elem()
	for e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	if e.Kind() == reflect.Struct && !decodesItself(e) {
		return e
	}
	return nil
}

// decodesItself reports whether the decoder hands t to its own
// UnmarshalYAML (a Duration), so it is one value, not fields.
func decodesItself(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(unmarshalerType)
}

var durationType = reflect.TypeOf(Duration(0))

// yamlType is a Go type as the reference names it.
func yamlType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Slice:
		return "list of " + yamlType(t.Elem()) + "s"
	case reflect.Map:
		return "map of " + yamlType(t.Elem()) + "s"
	case reflect.Struct:
		return "object"
	}
	return t.String()
}

// docRow is one documented field.
type docRow struct {
	line     int
	typ      string
	defaults string // the default cell, as written
}

// docExample is one YAML block of a section.
type docExample struct {
	line int
	text string
}

// reference is what the document says, per section.
type reference struct {
	rows     map[string]map[string]docRow // section -> path -> row
	examples map[string][]docExample
	problems []string // the document breaking its own conventions
}

var (
	sectionMark = regexp.MustCompile(`^<!--\s*reference:\s*([a-z]+)\s*-->\s*$`)
	fieldRow    = regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")
)

// parseReference reads the sections, field rows and YAML examples of the
// reference document.
func parseReference(doc string) reference {
	ref := reference{rows: map[string]map[string]docRow{}, examples: map[string][]docExample{}}
	known := map[string]bool{}
	for _, k := range refKinds {
		known[k.name] = true
	}
	section := ""
	var fence *docExample // the YAML block being read, if any
	inOtherFence := false
	for i, line := range strings.Split(doc, "\n") {
		n := i + 1
		trimmed := strings.TrimSpace(line)
		switch {
		case fence != nil:
			if trimmed == "```" {
				ref.examples[section] = append(ref.examples[section], *fence)
				fence = nil
				continue
			}
			fence.text += line + "\n"
			continue
		case inOtherFence:
			inOtherFence = trimmed != "```"
			continue
		case strings.HasPrefix(trimmed, "```"):
			if section != "" && trimmed == "```yaml" {
				fence = &docExample{line: n}
			} else {
				inOtherFence = true
			}
			continue
		}
		if m := sectionMark.FindStringSubmatch(trimmed); m != nil {
			switch {
			case m[1] == "end":
				section = ""
			case known[m[1]]:
				section = m[1]
			default:
				ref.problems = append(ref.problems, fmt.Sprintf("line %d: unknown section %q (want repo, server or end)", n, m[1]))
			}
			continue
		}
		m := fieldRow.FindStringSubmatch(trimmed)
		if section == "" || m == nil {
			continue
		}
		cells := splitRow(trimmed)
		if len(cells) < 4 {
			ref.problems = append(ref.problems, fmt.Sprintf("line %d: row %s has %d cells, want path, type, default and what it does", n, m[1], len(cells)))
			continue
		}
		if ref.rows[section] == nil {
			ref.rows[section] = map[string]docRow{}
		}
		if prev, dup := ref.rows[section][m[1]]; dup {
			ref.problems = append(ref.problems, fmt.Sprintf("line %d: %s %s documented twice (first at line %d)", n, section, m[1], prev.line))
			continue
		}
		ref.rows[section][m[1]] = docRow{line: n, typ: cells[1], defaults: cells[2]}
	}
	if fence != nil {
		ref.problems = append(ref.problems, fmt.Sprintf("line %d: YAML block never closed", fence.line))
	}
	return ref
}

// splitRow splits a Markdown table row at its unescaped pipes.
func splitRow(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		if row[i] == '\\' && i+1 < len(row) && row[i+1] == '|' {
			cur.WriteByte('|')
			i++
			continue
		}
		if row[i] == '|' {
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(row[i])
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// fieldProblems compares the documented rows with the fields the loaders
// decode: undocumented fields, rows of fields that do not exist, and
// types that differ.
func fieldProblems(ref reference) []string {
	problems := append([]string(nil), ref.problems...)
	for _, k := range refKinds {
		fields := fieldPaths(k.typ)
		rows := ref.rows[k.name]
		for _, p := range slices.Sorted(maps.Keys(fields)) {
			row, ok := rows[p]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s field %s (%s) is not documented", k.name, p, fields[p].typ))
			case row.typ != fields[p].typ:
				problems = append(problems, fmt.Sprintf("line %d: %s field %s is documented as %q, but it is a %s", row.line, k.name, p, row.typ, fields[p].typ))
			}
		}
		for _, p := range slices.Sorted(maps.Keys(rows)) {
			if _, ok := fields[p]; !ok {
				problems = append(problems, fmt.Sprintf("line %d: documented %s field %s does not exist", rows[p].line, k.name, p))
			}
		}
	}
	return problems
}

// exampleProblems loads every YAML example of each section with the real
// strict loader (ParseRepo, ParseServer). Server examples name files on
// the server that this machine lacks; only that complaint is forgiven.
func exampleProblems(ref reference, dir string) []string {
	var problems []string
	for _, k := range refKinds {
		if len(ref.examples[k.name]) == 0 {
			problems = append(problems, fmt.Sprintf("the %s section has no YAML example", k.name))
		}
		for _, ex := range ref.examples[k.name] {
			name := fmt.Sprintf("%s example at line %d", k.name, ex.line)
			var err error
			if k.name == "repo" {
				_, err = ParseRepo(name, []byte(ex.text), nil)
			} else {
				_, err = ParseServer(name, []byte(ex.text), dir)
			}
			for _, msg := range loadErrors(err) {
				problems = append(problems, fmt.Sprintf("%s does not load: %s", name, msg))
			}
		}
	}
	return problems
}

// loadErrors lists a loader's errors, leaving out files that do not exist
// on this machine.
func loadErrors(err error) []string {
	if err == nil {
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range es {
		if !strings.HasSuffix(e.Msg, ": no such file or directory") {
			out = append(out, e.Error())
		}
	}
	return out
}

// defaultsRepo and defaultsServer are the least each file must hold, plus
// one element of each list whose elements get defaults, so that every
// default the reference writes as a literal can be read back. Every file
// is named relative to dir, as ParseServer resolves them.
const defaultsRepo = `
version: 1
apps:
  - {name: a, path: a, render: helm}
`

const defaultsServer = `
github: {appID: 1, privateKeyFile: key, webhookSecretFile: secret}
clusters: [{name: c, kubeconfig: kc}]
policies: [{name: p, path: pol}]
notifications: [{webhook: {url: "https://hooks.example/", secretFile: secret}}]
`

// loadDefaults loads the least configuration of each kind, with every
// default applied.
func loadDefaults(dir string) (map[string]reflect.Value, error) {
	for _, f := range []string{"key", "secret", "kc"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "pol"), 0o700); err != nil {
		return nil, err
	}
	r, err := ParseRepo("defaults-repo", []byte(defaultsRepo), nil)
	if err != nil {
		return nil, err
	}
	s, err := ParseServer("defaults-server", []byte(defaultsServer), dir)
	if err != nil {
		return nil, err
	}
	return map[string]reflect.Value{"repo": reflect.ValueOf(*r), "server": reflect.ValueOf(*s)}, nil
}

// literal returns the default cell's value when it is exactly one code
// span ("`5m`"); prose ("the app's name") is not checked.
func literal(cell string) (string, bool) {
	if len(cell) < 2 || cell[0] != '`' || cell[len(cell)-1] != '`' || strings.Count(cell, "`") != 2 {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// valueAt follows a documented path through a loaded configuration,
// taking the first element of each list.
func valueAt(v reflect.Value, p string) (reflect.Value, bool) {
	for _, part := range strings.Split(p, ".") {
		name, list := strings.CutSuffix(part, "[]")
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return v, false
		}
		idx, _ := fieldsOf(v.Type())
		i, ok := idx[name]
		if !ok {
			return v, false
		}
		v = v.Field(i)
		if list {
			if v.Kind() != reflect.Slice || v.Len() == 0 {
				return v, false
			}
			v = v.Index(0)
		}
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return v, false
		}
		v = v.Elem()
	}
	return v, true
}

// sameDefault reports whether a loaded value is the documented literal.
func sameDefault(v reflect.Value, lit string) bool {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(lit)
		return err == nil && Duration(d) == v.Interface().(Duration)
	case v.Kind() == reflect.String:
		return strings.Trim(lit, `"`) == v.String()
	}
	var want, got any
	if yaml.Unmarshal([]byte(lit), &want) != nil {
		return false
	}
	b, err := yaml.Marshal(v.Interface())
	if err != nil || yaml.Unmarshal(b, &got) != nil {
		return false
	}
	return reflect.DeepEqual(want, got)
}

// defaultProblems checks every default written as a literal against the
// loaders' defaults.
func defaultProblems(ref reference, loaded map[string]reflect.Value) []string {
	var problems []string
	for _, k := range refKinds {
		rows := ref.rows[k.name]
		for _, p := range slices.Sorted(maps.Keys(rows)) {
			lit, ok := literal(rows[p].defaults)
			if !ok {
				continue
			}
			v, ok := valueAt(loaded[k.name], p)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("line %d: %s %s: the default %s cannot be checked: the least %s configuration in reference_test.go has no value there", rows[p].line, k.name, p, rows[p].defaults, k.name))
			case !sameDefault(v, lit):
				b, _ := yaml.Marshal(v.Interface())
				problems = append(problems, fmt.Sprintf("line %d: %s %s: documented default %s, but the loader gives %s", rows[p].line, k.name, p, rows[p].defaults, strings.TrimSpace(string(b))))
			}
		}
	}
	return problems
}

func readReference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReferenceDocumentsEveryField(t *testing.T) {
	for _, p := range fieldProblems(parseReference(readReference(t))) {
		t.Errorf("%s: %s", referenceDoc, p)
	}
}

func TestReferenceDefaultsAreTheLoaders(t *testing.T) {
	loaded, err := loadDefaults(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref := parseReference(readReference(t))
	checked := 0
	for _, rows := range ref.rows {
		for _, r := range rows {
			if _, ok := literal(r.defaults); ok {
				checked++
			}
		}
	}
	// A convention broken everywhere (defaults in prose only) would make
	// this test pass by checking nothing.
	if checked < 15 {
		t.Errorf("only %d defaults are written as literals; the reference lost its convention", checked)
	}
	for _, p := range defaultProblems(ref, loaded) {
		t.Errorf("%s: %s", referenceDoc, p)
	}
}

func TestReferenceExamplesLoad(t *testing.T) {
	for _, p := range exampleProblems(parseReference(readReference(t)), t.TempDir()) {
		t.Errorf("%s: %s", referenceDoc, p)
	}
}

// TestReferenceCheckCatchesRot proves the checks above can fail: a row
// deleted, a row for a field that does not exist, a wrong type, a wrong
// default and an example with a misspelt field are each reported by name.
func TestReferenceCheckCatchesRot(t *testing.T) {
	doc := readReference(t)
	dir := t.TempDir()
	loaded, err := loadDefaults(dir)
	if err != nil {
		t.Fatal(err)
	}
	replaceRow := func(path, with string) string {
		t.Helper()
		lines := strings.Split(doc, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "| `"+path+"` |") {
				lines[i] = with
				return strings.Join(lines, "\n")
			}
		}
		t.Fatalf("no row for %s in %s", path, referenceDoc)
		return ""
	}
	cases := []struct {
		name string
		doc  string
		want string // a problem that must be reported
	}{
		{"row deleted", replaceRow("apps[].helm.values", ""), "repo field apps[].helm.values (list of strings) is not documented"},
		{"server row deleted", replaceRow("state.leaderElection.leaseDuration", ""), "server field state.leaderElection.leaseDuration (duration) is not documented"},
		{"bogus row", replaceRow("apps[].force", "| `apps[].force` | boolean | `false` | x |\n| `apps[].hooks` | boolean | none | x |"), "documented repo field apps[].hooks does not exist"},
		{"wrong type", replaceRow("apps[].prune", "| `apps[].prune` | string | `true` | x |"), `repo field apps[].prune is documented as "string", but it is a boolean`},
		{"wrong default", replaceRow("apps[].healthTimeout", "| `apps[].healthTimeout` | duration | `10m` | x |"), "repo apps[].healthTimeout: documented default `10m`, but the loader gives 5m0s"},
		{"bad example", strings.Replace(doc, "\n<!-- reference: repo -->\n", "\n<!-- reference: repo -->\n```yaml\nversion: 1\napps:\n  - {name: a, path: a, namspace: web}\n```\n", 1), `unknown field "namspace"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := parseReference(c.doc)
			all := slices.Concat(fieldProblems(ref), defaultProblems(ref, loaded), exampleProblems(ref, dir))
			for _, p := range all {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Errorf("no problem reported containing %q; got:\n%s", c.want, strings.Join(all, "\n"))
		})
	}
}

// TestFieldPathsWalkNestedTypes pins the walk on a type of each shape the
// decoder reads: nested structs, pointers, lists and maps of structs, a
// Duration and ignored fields.
func TestFieldPathsWalkNestedTypes(t *testing.T) {
	type leaf struct {
		N int `yaml:"n"`
	}
	type shapes struct {
		S      string          `yaml:"s"`
		P      *leaf           `yaml:"p"`
		L      []leaf          `yaml:"l"`
		M      map[string]leaf `yaml:"m"`
		D      Duration        `yaml:"d"`
		Tags   []string        `yaml:"tags"`
		Set    map[string]string
		Hidden string `yaml:"-"`
	}
	got := map[string]string{}
	for p, f := range fieldPaths(reflect.TypeOf(shapes{})) {
		got[p] = f.typ
	}
	want := map[string]string{
		"s": "string", "p": "object", "p.n": "integer", "l": "list of objects", "l[].n": "integer",
		"m": "map of objects", "m.*.n": "integer", "d": "duration", "tags": "list of strings",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field paths (-want +got):\n%s", diff)
	}
}
