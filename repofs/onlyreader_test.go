package repofs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// forbidden are the standard library calls that read a path straight from
// disk, following symlinks and blocking on FIFOs.
var forbidden = map[string]map[string]bool{
	"os":       {"ReadFile": true, "Open": true, "OpenFile": true, "Stat": true, "Lstat": true, "ReadDir": true, "DirFS": true, "OpenRoot": true},
	"filepath": {"Walk": true, "WalkDir": true, "EvalSymlinks": true, "Glob": true},
	"ioutil":   {"ReadFile": true, "ReadDir": true},
}

// allowed are the files that may read disk directly, and why.
var allowed = map[string]string{
	// The server's own configuration, written by its operator and read
	// at start-up: never a file of a checkout.
	"config/load_server.go": "reads the server configuration, not a checkout",
	"config/notify.go":      "checks the notification secrets the server configuration names, not a checkout",
}

// TestCheckoutReadersUseOnlyRepofs fails when code in the packages that
// read checkouts (config, render, policy, driftwrite) reads a path itself instead of
// through this package.
func TestCheckoutReadersUseOnlyRepofs(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	for _, dir := range []string{"config", "render", "policy", "driftwrite"} {
		ents, err := os.ReadDir(filepath.Join("..", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			name := dir + "/" + e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || allowed[name] != "" {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join("..", name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			checked++
			imports := map[string]string{} // local name -> import path
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
				pkg, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				path := imports[pkg.Name]
				base := path[strings.LastIndex(path, "/")+1:]
				if (path == "os" || path == "path/filepath" || path == "io/ioutil") && forbidden[base][sel.Sel.Name] {
					t.Errorf("%s: %s.%s reads the disk directly; read checkouts through repofs", fset.Position(sel.Pos()), base, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d files: the walk is broken", checked)
	}
}
