package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name  string
		trust Trust
		files map[string]string
		want  CompileErrors
	}{
		{
			name:  "http.send refused in a repository policy",
			trust: Repository,
			files: map[string]string{"exfil.rego": "package main\n\ndeny contains msg if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"http://example.com\"})\n\tmsg := r.body\n}\n"},
			want: CompileErrors{{Set: "test", File: "policy/exfil.rego", Line: 4, Column: 7, Code: "rego_type_error",
				Message: "unsafe built-in function calls in expression: http.send"}},
		},
		{
			name:  "opa.runtime refused in a repository policy",
			trust: Repository,
			files: map[string]string{"env.rego": "package main\n\ndeny contains opa.runtime().env.HOME if true\n"},
			want: CompileErrors{{Set: "test", File: "policy/env.rego", Line: 3, Column: 15, Code: "rego_type_error",
				Message: "unsafe built-in function calls in expression: opa.runtime"}},
		},
		{
			name:  "net.lookup_ip_addr refused in a repository policy",
			trust: Repository,
			files: map[string]string{"dns.rego": "package main\n\ndeny contains \"x\" if net.lookup_ip_addr(\"example.com\")\n"},
			want: CompileErrors{{Set: "test", File: "policy/dns.rego", Line: 3, Column: 22, Code: "rego_type_error",
				Message: "unsafe built-in function calls in expression: net.lookup_ip_addr"}},
		},
		{
			name:  "syntax error in Rego v1",
			trust: Trusted,
			files: map[string]string{"sub/bad.rego": "package main\n\ndeny contains msg if {\n\tmsg := \"x\" +\n}\n"},
			want: CompileErrors{{Set: "test", File: "policy/sub/bad.rego", Line: 5, Column: 1, Code: "rego_parse_error",
				Message: "unexpected } token"}},
		},
		{
			name:  "recursion",
			trust: Trusted,
			files: map[string]string{"loop.rego": "package main\n\nf(x) := f(x)\n\ndeny contains f(1) if true\n"},
			want: CompileErrors{{Set: "test", File: "policy/loop.rego", Line: 3, Column: 1, Code: "rego_recursion_error",
				Message: "rule data.main.f is recursive: data.main.f -> data.main.f"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(context.Background(), []Source{{Name: "test", Dir: dir, Prefix: "policy", Trust: tt.trust}})
			var got CompileErrors
			if !errors.As(err, &got) {
				t.Fatalf("Load() error = %v, want CompileErrors", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrustedMayUseHTTP(t *testing.T) {
	files := map[string]string{"net.rego": "package main\n\ndeny contains msg if {\n\tfalse\n\tr := http.send({\"method\": \"GET\", \"url\": \"http://example.com\"})\n\tmsg := r.body\n}\n"}
	load(t, Source{Trust: Trusted}, files)
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name  string
		rego  string
		limit Limit
		msg   string
	}{
		{
			name: "endless iteration",
			rego: `package main

deny contains "never" if {
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i == -j
}
`,
			limit: LimitTime,
			msg:   "policy main (policy/hostile.rego): evaluation of ConfigMap web/c exceeded 200ms",
		},
		{
			name: "huge comprehension",
			rego: `package main

deny contains sprintf("%d", [n]) if {
	n := count([1 | some i in numbers.range(1, 100000); some j in numbers.range(1, 100000)])
}
`,
			limit: LimitTime,
			msg:   "policy main (policy/hostile.rego): evaluation of ConfigMap web/c exceeded 200ms",
		},
		{
			name:  "huge range",
			rego:  "package main\n\ndeny contains \"x\" if count(numbers.range(1, 1e10)) > 0\n",
			limit: LimitNone,
			msg: "policy main (policy/hostile.rego): evaluate ConfigMap web/c: policy/hostile.rego:3: eval_builtin_error: " +
				"gantry.bounded.numbers_range: numbers.range: 10000000000 elements, more than the limit of 100000",
		},
		{
			name:  "too many results",
			rego:  "package main\n\ndeny contains sprintf(\"%d\", [i]) if some i in numbers.range(1, 101)\n",
			limit: LimitResults,
			msg:   "policy main (policy/hostile.rego): evaluate ConfigMap web/c: rule deny: 101 results, more than the limit of 100",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"hostile.rego": tt.rego})
			opts := DefaultOptions()
			opts.Timeout = 200 * time.Millisecond
			e, err := LoadWithOptions(context.Background(), []Source{{Name: "test", Dir: dir, Prefix: "policy", Trust: Repository}}, opts)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := e.Evaluate(context.Background(), Input{Objects: []Object{
				{Obj: obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: web}}")},
			}})
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("evaluation took %s", took)
			}
			if err == nil || len(res.Errors) != 1 {
				t.Fatalf("Evaluate() = %v, %v; want one error", res.Errors, err)
			}
			if got := res.Errors[0]; got.Limit != tt.limit || got.Error() != tt.msg {
				t.Errorf("error = %q (limit %q), want %q (limit %q)", got.Error(), got.Limit, tt.msg, tt.limit)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("joined error %q lacks %q", err, tt.msg)
			}
		})
	}
}

func TestSourceConfinement(t *testing.T) {
	for _, rel := range []string{"../x", "/etc", "a/../../b"} {
		t.Run(rel, func(t *testing.T) {
			if _, err := RepoSource("/repo", rel, nil); err == nil {
				t.Errorf("RepoSource(%q) accepted a path outside the repository", rel)
			}
		})
	}
	got, err := RepoSource("/repo", "./policy/", []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	want := Source{Name: "repo:policy", Dir: "/repo/policy", Root: "/repo", Prefix: "policy", Trust: Repository, Namespaces: []string{"*"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
}
