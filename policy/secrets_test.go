package policy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The values of the Secret pair every test here evaluates: the live one's,
// the rendered one's (data and stringData), and an unrelated Secret's in
// the inventory.
const (
	liveValue     = "live-password-V"
	renderedValue = "rendered-password-W"
	stringValue   = "string-token-S"
	inventoryVal  = "inventory-secret-I"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// secretInput is an update of Secret web/creds with a live version, and
// another Secret in the inventory.
func secretInput(t *testing.T) Input {
	t.Helper()
	return Input{
		Objects: []Object{{
			Obj: obj(t, `{apiVersion: v1, kind: Secret, metadata: {name: creds, namespace: web},
				data: {password: `+b64(renderedValue)+`}, stringData: {token: `+stringValue+`}}`),
			Live: obj(t, `{apiVersion: v1, kind: Secret, metadata: {name: creds, namespace: web,
				annotations: {kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"`+b64(liveValue)+`"}}'}},
				data: {password: `+b64(liveValue)+`}}`),
			Action: ActionUpdate, App: "web",
		}},
		Inventory: []*unstructured.Unstructured{obj(t, `{apiVersion: v1, kind: Secret, metadata: {name: other, namespace: web}, data: {key: `+b64(inventoryVal)+`}}`)},
	}
}

// Policies that copy every Secret value they can reach into their
// messages and metadata, in each input convention.
var echoPolicies = map[string]string{
	"gantry.rego": `package gantry.echo

deny contains msg if {
	msg := sprintf("live=%s object=%s token=%s keys=%v annotation=%s", [
		input.live.data.password,
		input.object.data.password, input.object.stringData.token,
		object.keys(input.live.data),
		input.live.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]])
}

warn contains msg if {
	msg := sprintf("decoded live=%s object=%s", [base64.decode(input.live.data.password), base64.decode(input.object.data.password)])
}
`,
	"main.rego": `package main

deny contains {"msg": msg, "details": {"value": base64.decode(input.data.password), base64.decode(input.data.password): "as a key"}} if {
	msg := sprintf("conftest sees %s", [input.data.password])
}
`,
	"echo/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8secho}
spec:
  crd: {spec: {names: {kind: K8sEcho}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8secho

        violation[{"msg": msg}] {
          old := base64.decode(input.review.oldObject.data.password)
          new := base64.decode(input.review.object.data.password)
          inv := base64.decode(data.inventory.namespace.web.v1.Secret.other.data.key)
          msg := sprintf("gatekeeper old=%s new=%s inventory=%s", [old, new, inv])
        }
`,
	"echo/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sEcho
metadata: {name: echo}
spec: {match: {kinds: [{apiGroups: [""], kinds: ["Secret"]}]}}
`,
}

// published is everything of a result that reaches a PR: messages,
// metadata and errors, as JSON.
func published(t *testing.T, r Result) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range r.Errors {
		msgs = append(msgs, e.Error())
	}
	return string(b) + strings.Join(msgs, "\n")
}

func assertNoSecretValue(t *testing.T, out string) {
	t.Helper()
	for _, v := range []string{liveValue, renderedValue, stringValue, inventoryVal} {
		for _, form := range []string{v, b64(v)} {
			if strings.Contains(out, form) {
				t.Errorf("published output holds Secret value %q:\n%s", form, out)
			}
		}
	}
}

// A repository's policies see Secrets with their keys and without their
// values, whichever input convention they use; nothing they write can
// carry a value.
func TestRepositoryPoliciesSeeSecretsMasked(t *testing.T) {
	e := load(t, Source{Trust: Repository}, echoPolicies)
	res, err := e.Evaluate(context.Background(), secretInput(t))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecretValue(t, published(t, res))
	// The policies saw the masks, not values scrubbed afterwards: decoding
	// a mask is undefined, so the rules that decode say nothing.
	want := map[string]string{
		"gantry.echo.deny": `live=(hidden) object=(hidden) token=(hidden) keys={"password"} annotation=(hidden)`,
	}
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.Rule] = f.Message
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}

// A trusted set may test a Secret's value; a repository set with the same
// rule cannot.
func TestTrustedPoliciesMayTestSecretValues(t *testing.T) {
	weak := map[string]string{"weak.rego": `package gantry.weak

deny contains "the live password is the well-known one" if {
	base64.decode(input.live.data.password) == "` + liveValue + `"
}

deny contains "the rendered password is the well-known one" if {
	base64.decode(input.object.data.password) == "` + renderedValue + `"
}
`}
	for _, tt := range []struct {
		trust Trust
		want  []string
	}{
		{Trusted, []string{"the live password is the well-known one", "the rendered password is the well-known one"}},
		{Repository, nil},
	} {
		t.Run(tt.trust.String(), func(t *testing.T) {
			res, err := load(t, Source{Trust: tt.trust}, weak).Evaluate(context.Background(), secretInput(t))
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Message)
			}
			if tt.trust == Trusted && err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
		})
	}
}

// A trusted set sees the values, and what it echoes is scrubbed: raw,
// base64-encoded and decoded, in messages, metadata (keys included) and
// errors.
func TestTrustedPolicyEchoIsScrubbed(t *testing.T) {
	policies := map[string]string{}
	for k, v := range echoPolicies {
		policies[k] = v
	}
	e := load(t, Source{Trust: Trusted}, policies)
	res, err := e.Evaluate(context.Background(), secretInput(t))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecretValue(t, published(t, res))
	want := map[string]string{
		"gantry.echo.deny": `live=(hidden) object=(hidden) token=(hidden) keys={"password"} annotation=(hidden)`,
		"gantry.echo.warn": "decoded live=(hidden) object=(hidden)",
		"deny":             "conftest sees (hidden)",
		"K8sEcho/echo":     "gatekeeper old=(hidden) new=(hidden) inventory=(hidden)",
	}
	got := map[string]string{}
	for _, f := range res.Findings {
		got[f.Rule] = f.Message
		if f.Rule == "deny" {
			if d := cmp.Diff(map[string]any{"details": map[string]any{"value": "(hidden)", "(hidden)": "as a key"}}, f.Metadata); d != "" {
				t.Errorf("metadata (-want +got):\n%s", d)
			}
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}

// An evaluation error's text is scrubbed too, and the original error is
// not reachable by unwrapping.
func TestEvalErrorIsScrubbed(t *testing.T) {
	sc := scrubber{values: secretValues(secretInput(t))}
	e := &EvalError{Policy: "p", Object: "Secret web/creds", Err: fmt.Errorf("to_number: cannot parse %q", liveValue)}
	sc.evalError(e)
	if strings.Contains(e.Error(), liveValue) || !strings.Contains(e.Error(), "cannot parse") {
		t.Errorf("error after scrubbing: %s", e.Error())
	}
	for err := error(e); err != nil; err = errors.Unwrap(err) {
		if strings.Contains(err.Error(), liveValue) {
			t.Errorf("unwrapping reaches the value: %v", err)
		}
	}
}

func TestMaskedInputLeavesOtherObjectsAlone(t *testing.T) {
	cm := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {k: visible}}`)
	in := Input{Objects: []Object{{Obj: cm}}}
	out, found := maskedInput(in)
	if found || out.Objects[0].Obj != cm {
		t.Errorf("an input without Secrets was copied: found %v", found)
	}
	in = secretInput(t)
	out, found = maskedInput(in)
	if !found {
		t.Fatal("Secrets not found")
	}
	if got := out.Objects[0].Live.Object["data"]; !cmp.Equal(got, map[string]any{"password": SecretMask}) {
		t.Errorf("masked live data: %v", got)
	}
	if got := in.Objects[0].Live.Object["data"]; cmp.Equal(got, map[string]any{"password": SecretMask}) {
		t.Error("masking changed the input")
	}
}

// A Secret decrypted from SOPS at render is masked for every set, trusted
// ones too, and carries the sops marker; the same rule still sees the
// value of a plain Secret in a trusted set.
func TestDecryptedSecretsAreMaskedForEverySet(t *testing.T) {
	weak := map[string]string{"weak.rego": `package gantry.weak

deny contains "saw the decrypted value" if {
	input.object.stringData.password == "` + renderedValue + `"
}

deny contains "marked as sops" if {
	input.object.sops.decrypted == "gantry"
}
`}
	secret := obj(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: apps}\nstringData: {password: "+renderedValue+"}\n")
	for _, tt := range []struct {
		decrypted bool
		want      []string
	}{
		{true, []string{"marked as sops"}},
		{false, []string{"saw the decrypted value"}},
	} {
		t.Run(fmt.Sprint("decrypted=", tt.decrypted), func(t *testing.T) {
			in := Input{Objects: []Object{{Obj: secret, Live: secret, App: "web", Cluster: "prod", Decrypted: tt.decrypted}}}
			res, err := load(t, Source{Trust: Trusted}, weak).Evaluate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Message)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			if secret.Object["sops"] != nil || secret.Object["stringData"].(map[string]any)["password"] != renderedValue {
				t.Error("Evaluate changed the caller's object")
			}
		})
	}
}
