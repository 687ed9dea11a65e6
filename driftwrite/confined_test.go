package driftwrite

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestReadsOnlyThroughRepofs fails when this package reads a path itself
// instead of through repofs: a checkout is hostile, and only repofs
// refuses symlinks out of it, FIFOs and oversized files.
func TestReadsOnlyThroughRepofs(t *testing.T) {
	forbidden := map[string]map[string]bool{
		"os":            {"ReadFile": true, "Open": true, "OpenFile": true, "Stat": true, "Lstat": true, "ReadDir": true, "DirFS": true, "OpenRoot": true, "Readlink": true},
		"path/filepath": {"Walk": true, "WalkDir": true, "EvalSymlinks": true, "Glob": true},
		"io/ioutil":     {"ReadFile": true, "ReadDir": true},
	}
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		imports := map[string]string{}
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			local := p[strings.LastIndex(p, "/")+1:]
			if im.Name != nil {
				local = im.Name.Name
			}
			imports[local] = p
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && forbidden[imports[pkg.Name]][sel.Sel.Name] {
				t.Errorf("%s: %s.%s reads the disk directly; read the checkout through repofs", fset.Position(sel.Pos()), imports[pkg.Name], sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked only %d files: the walk is broken", checked)
	}
}
