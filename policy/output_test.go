package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sampleResult() Result {
	return Result{
		Findings: []Finding{
			{App: "web-prod", APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "frontend",
				File: "apps/web/prod/deploy.yaml", Line: 12, Set: "server", Policy: "prod/images.rego", Rule: "deny",
				Severity: SeverityDeny, Message: "images must be pinned by digest in prod"},
			{APIVersion: "v1", Kind: "Namespace", Name: "web", Set: "server", Policy: "ns.rego", Rule: "warn",
				Severity: SeverityWarn, Message: "no owner"},
		},
		Errors: []*EvalError{{Set: "server", Policy: "main (slow.rego)", Object: "ConfigMap web/c", File: "c.yaml", Line: 1,
			Limit: LimitTime, Timeout: 2e9, Err: errors.New("cancelled")}},
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	want := `deny    web-prod · Deployment web/frontend · apps/web/prod/deploy.yaml:12
        images must be pinned by digest in prod (policy prod/images.rego, rule deny)
warn    Namespace web
        no owner (policy ns.rego, rule warn)
error   policy main (slow.rego): evaluation of ConfigMap web/c exceeded 2s (c.yaml:1)
1 deny, 1 warning, 1 error
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"findings": []any{
			map[string]any{"app": "web-prod", "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "web", "name": "frontend",
				"file": "apps/web/prod/deploy.yaml", "line": 12.0, "set": "server", "policy": "prod/images.rego", "rule": "deny",
				"severity": "deny", "message": "images must be pinned by digest in prod"},
			map[string]any{"apiVersion": "v1", "kind": "Namespace", "name": "web", "set": "server", "policy": "ns.rego", "rule": "warn",
				"severity": "warn", "message": "no owner"},
		},
		"errors": []any{map[string]any{"set": "server", "policy": "main (slow.rego)", "object": "ConfigMap web/c", "file": "c.yaml",
			"line": 1.0, "limit": "time", "message": "policy main (slow.rego): evaluation of ConfigMap web/c exceeded 2s"}},
		"summary": map[string]any{"denies": 1.0, "warnings": 1.0, "errors": 1.0, "exceptions": 0.0, "excepted": 0.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
}

func TestRunTests(t *testing.T) {
	files := map[string]string{
		"main.rego": conftestPolicies["kubernetes/security.rego"],
		"main_test.rego": `package main

test_root_denied if {
	count(deny_run_as_root) == 1 with input as {"kind": "Deployment", "metadata": {"name": "x"}}
}

test_wrong if {
	print("checking")
	count(deny_run_as_root) == 2 with input as {"kind": "Deployment", "metadata": {"name": "x"}}
}

todo_test_later if false
`,
	}
	dir := writeFiles(t, files)
	rs, err := RunTests(context.Background(), []Source{{Name: "s", Dir: dir, Prefix: "policy", Trust: Repository}}, TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		rs[i].Duration = 0
	}
	want := []TestResult{
		{Set: "s", File: "policy/main_test.rego", Line: 3, Package: "main", Name: "test_root_denied", Outcome: TestPass},
		{Set: "s", File: "policy/main_test.rego", Line: 7, Package: "main", Name: "test_wrong", Outcome: TestFail,
			Output: "checking\n"},
		{Set: "s", File: "policy/main_test.rego", Line: 12, Package: "main", Name: "todo_test_later", Outcome: TestSkip},
	}
	if diff := cmp.Diff(want, rs); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if TestsPassed(rs) {
		t.Error("TestsPassed() = true with a failing test")
	}
	var b bytes.Buffer
	if err := WriteTestText(&b, rs); err != nil {
		t.Fatal(err)
	}
	wantText := `PASS   policy/main_test.rego:3  main.test_root_denied (0s)
FAIL   policy/main_test.rego:7  main.test_wrong (0s)
       | checking
SKIP   policy/main_test.rego:12  main.todo_test_later (0s)
1 passed, 1 failed, 0 errors, 1 skipped
`
	if diff := cmp.Diff(wantText, b.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}
