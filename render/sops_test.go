package render

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/sopsdecrypt"
	"github.com/gantryops/gantry/sopsdecrypt/sopstest"
)

// sopsValue is the cleartext every fixture hides; no message may show it.
const sopsValue = "pa55-w0rd-never-shown"

const plainSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
stringData:
  password: ` + sopsValue + `
data:
  token: ` + "dG9rZW4tdmFsdWUtaGlkZGVu" + `
`

var kubeRegex = sopstest.Options{EncryptedRegex: "^(data|stringData)$"}

// encrypt returns a fixture encrypted for key.
func encrypt(t *testing.T, key sopstest.Key, plain string, f sopsdecrypt.Format) string {
	t.Helper()
	return string(sopstest.Encrypt(t, []byte(plain), f, kubeRegex, key.Recipient))
}

// renderWith renders app with the keys.
func renderWith(t *testing.T, root string, app config.App, keys *sopsdecrypt.Keys) ([]rendered, SourceMap, error) {
	t.Helper()
	r := Renderer{SOPS: keys}
	objs, sm, err := r.Render(context.Background(), root, app)
	out := make([]rendered, len(objs))
	for i, o := range objs {
		out[i] = rendered{obj: o, src: sm[KeyOf(o)]}
	}
	return out, sm, err
}

// noValue fails when err's message shows a decrypted value.
func noValue(t *testing.T, err error) {
	t.Helper()
	for _, v := range []string{sopsValue, "token-value-hidden", "dG9rZW4tdmFsdWUtaGlkZGVu"} {
		if err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("error shows a decrypted value: %v", err)
		}
	}
}

func TestSOPSPlainYAMLDecrypts(t *testing.T) {
	key := sopstest.NewKey(t)
	enc := encrypt(t, key, plainSecret, sopsdecrypt.YAML)
	if strings.Contains(enc, sopsValue) {
		t.Fatal("fixture not encrypted")
	}
	root := writeFiles(t, map[string]string{
		"app/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {a: b}\n",
		"app/secret.yaml": "# encrypted with sops\n" + enc,
	})
	out, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, key.Keys(t))
	if err != nil {
		t.Fatal(err)
	}
	var secret *rendered
	for i := range out {
		if out[i].obj.GetKind() == "Secret" {
			secret = &out[i]
		} else if out[i].src.Decrypted {
			t.Errorf("%s marked decrypted", describe(out[i].obj))
		}
	}
	if secret == nil {
		t.Fatal("no Secret rendered")
	}
	if got, _ := secret.obj.Object["stringData"].(map[string]any)["password"].(string); got != sopsValue {
		t.Errorf("password = %q, want the decrypted value", got)
	}
	if got, _ := secret.obj.Object["data"].(map[string]any)["token"].(string); got != "dG9rZW4tdmFsdWUtaGlkZGVu" {
		t.Errorf("token = %q, want the decrypted value", got)
	}
	if _, ok := secret.obj.Object["sops"]; ok {
		t.Error("the sops metadata is kept in the object applied to the cluster")
	}
	if !secret.src.Decrypted {
		t.Error("the decrypted Secret is not marked Decrypted")
	}
	if secret.src.File != "app/secret.yaml" || secret.src.Line != 2 {
		t.Errorf("source = %s:%d, want app/secret.yaml:2 (the encrypted file's line)", secret.src.File, secret.src.Line)
	}
}

// TestSOPSRefusals: every file gantry cannot or must not decrypt fails the
// render with its file, line and reason, never a value.
func TestSOPSRefusals(t *testing.T) {
	key, other := sopstest.NewKey(t), sopstest.NewKey(t)
	enc := encrypt(t, key, plainSecret, sopsdecrypt.YAML)
	tampered := strings.Replace(enc, "name: db", "name: dc", 1)
	encCM := encrypt(t, key, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: "+sopsValue+"}\n", sopsdecrypt.YAML)
	for _, tc := range []struct {
		name  string
		file  string
		keys  *sopsdecrypt.Keys
		cause error
		want  string
	}{
		{"missing key", enc, nil, sopsdecrypt.ErrNoKey, "the server holds no age key for this repository"},
		{"wrong key", enc, other.Keys(t), sopsdecrypt.ErrKeyMismatch, key.Recipient},
		{"tampered MAC", tampered, key.Keys(t), sopsdecrypt.ErrMAC, "MAC mismatch"},
		{"not metadata", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\nsops: {note: hand-written}\n", key.Keys(t), ErrSOPS, "not SOPS metadata"},
		{"encrypted ConfigMap", encCM, key.Keys(t), ErrSOPS, "not a v1 Secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFiles(t, map[string]string{"app/secret.yaml": tc.file})
			_, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, tc.keys)
			if !errors.Is(err, tc.cause) || !errors.Is(err, ErrSOPS) {
				t.Fatalf("err = %v, want %v and ErrSOPS", err, tc.cause)
			}
			es := AsErrors(err)
			if len(es) != 1 || es[0].File != "app/secret.yaml" || es[0].Line == 0 || es[0].App != "web" {
				t.Fatalf("errors = %+v, want one located at app/secret.yaml with a line", es)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want it to say %q", err, tc.want)
			}
			noValue(t, err)
		})
	}
}

// TestSOPSNestedKeyIsNotEncryption: a file that merely has a sops key
// below the top level renders as it is.
func TestSOPSNestedKeyIsNotEncryption(t *testing.T) {
	root := writeFiles(t, map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  sops: \"mac: x\"\n"})
	out, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := out[0].obj.Object["data"].(map[string]any)["sops"]; got != "mac: x" || out[0].src.Decrypted {
		t.Errorf("data.sops = %v, decrypted = %v", got, out[0].src.Decrypted)
	}
}

func TestSOPSKustomize(t *testing.T) {
	key := sopstest.NewKey(t)
	enc := encrypt(t, key, plainSecret, sopsdecrypt.YAML)
	env := string(sopstest.Encrypt(t, []byte("API_KEY="+sopsValue+"-env\n"), sopsdecrypt.Dotenv, sopstest.Options{}, key.Recipient))
	bin := string(sopstest.Encrypt(t, []byte("-----BEGIN CERT-----\n"+sopsValue+"-file\n"), sopsdecrypt.Binary, sopstest.Options{}, key.Recipient))
	root := writeFiles(t, map[string]string{
		"app/kustomization.yaml": `resources: [secret.yaml]
namePrefix: web-
secretGenerator:
- name: api
  envs: [api.env]
- name: tls
  files: [tls.crt=tls.crt]
generatorOptions: {disableNameSuffixHash: true}
`,
		"app/secret.yaml": enc,
		"app/api.env":     env,
		"app/tls.crt":     bin,
	})
	out, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, key.Keys(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"web-db":  sopsValue,
		"web-api": base64.StdEncoding.EncodeToString([]byte(sopsValue + "-env")),
		"web-tls": base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERT-----\n" + sopsValue + "-file\n")),
	}
	for _, o := range out {
		w, ok := want[o.obj.GetName()]
		if !ok {
			t.Errorf("unexpected %s", describe(o.obj))
			continue
		}
		delete(want, o.obj.GetName())
		y := toYAML(t, []*unstructured.Unstructured{o.obj})
		if !strings.Contains(y, w) {
			t.Errorf("%s lacks its decrypted value %q:\n%s", describe(o.obj), w, y)
		}
		if strings.Contains(y, "ENC[") || strings.Contains(y, "sops") {
			t.Errorf("%s keeps ciphertext or metadata:\n%s", describe(o.obj), y)
		}
		if !o.src.Decrypted {
			t.Errorf("%s is not marked Decrypted", describe(o.obj))
		}
	}
	if len(want) > 0 {
		t.Errorf("not rendered: %v", want)
	}
}

// TestSOPSValueNeverLeavesSecrets: a pull request that copies a decrypted
// value into something the plan shows in full (a ConfigMap generated from
// the encrypted file, a replacement into a ConfigMap) is
// refused, and the refusal does not show the value. A Secret with a plain
// key beside decrypted ones is not marked Decrypted (the starter pack then
// judges it plain).
func TestSOPSValueNeverLeavesSecrets(t *testing.T) {
	key := sopstest.NewKey(t)
	enc := encrypt(t, key, plainSecret, sopsdecrypt.YAML)
	env := string(sopstest.Encrypt(t, []byte("API_KEY="+sopsValue+"\n"), sopsdecrypt.Dotenv, sopstest.Options{}, key.Recipient))
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"configMapGenerator of an encrypted manifest", map[string]string{
			"app/kustomization.yaml": "resources: [secret.yaml]\nconfigMapGenerator:\n- name: leak\n  files: [secret.yaml]\n",
			"app/secret.yaml":        enc,
		}},
		{"configMapGenerator beside a secretGenerator of the same env file", map[string]string{
			"app/kustomization.yaml": "secretGenerator:\n- name: s\n  envs: [api.env]\nconfigMapGenerator:\n- name: leak\n  envs: [api.env]\n",
			"app/api.env":            env,
		}},
		{"replacement into a ConfigMap", map[string]string{
			"app/kustomization.yaml": `resources: [secret.yaml, deploy.yaml]
replacements:
- source: {kind: Secret, name: db, fieldPath: stringData.password}
  targets:
  - select: {kind: ConfigMap, name: shown}
    fieldPaths: [data.copy]
`,
			"app/secret.yaml": enc,
			"app/deploy.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shown}\ndata: {copy: x}\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFiles(t, tc.files)
			_, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, key.Keys(t))
			if !errors.Is(err, ErrSOPS) {
				t.Fatalf("err = %v, want ErrSOPS: a decrypted value reached a ConfigMap", err)
			}
			if !strings.Contains(err.Error(), "outside a Secret") {
				t.Errorf("err = %q, want it to say the value left a Secret", err)
			}
			noValue(t, err)
		})
	}

	t.Run("plain key beside decrypted ones", func(t *testing.T) {
		root := writeFiles(t, map[string]string{
			"app/kustomization.yaml": "resources: [secret.yaml]\npatches:\n- patch: |\n    apiVersion: v1\n    kind: Secret\n    metadata: {name: db}\n    stringData: {added: plain-text}\n",
			"app/secret.yaml":        enc,
		})
		out, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, key.Keys(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].src.Decrypted {
			t.Errorf("a Secret with a plain key is marked Decrypted: %+v", out)
		}
	})
}

// TestSOPSHelmValuesRefused: an encrypted values file is refused by name
// rather than templated as ciphertext.
func TestSOPSHelmValuesRefused(t *testing.T) {
	key := sopstest.NewKey(t)
	vals := string(sopstest.Encrypt(t, []byte("password: "+sopsValue+"\n"), sopsdecrypt.YAML, sopstest.Options{}, key.Recipient))
	root := writeFiles(t, map[string]string{
		"chart/Chart.yaml":          "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {p: {{ .Values.password | quote }}}\n",
		"chart/secrets.values.yaml": vals,
	})
	app := config.App{Name: "c", Path: "chart", Render: config.RenderHelm, Helm: &config.Helm{Values: []string{"secrets.values.yaml"}}}
	_, _, err := renderWith(t, root, app, key.Keys(t))
	if !errors.Is(err, ErrSOPS) || !strings.Contains(err.Error(), "gantry does not decrypt Helm values") {
		t.Fatalf("err = %v, want the encrypted values file refused", err)
	}
	noValue(t, err)
}

// TestSOPSScrub: a render error that quotes a decrypted value, in any of
// its forms, shows "(hidden)" instead.
func TestSOPSScrub(t *testing.T) {
	var f repoFS
	f.sops.record(sopsValue)
	enc := base64.StdEncoding.EncodeToString([]byte(sopsValue))
	got := f.scrub("kustomize: cannot merge " + sopsValue + " and " + enc)
	if strings.Contains(got, sopsValue) || strings.Contains(got, enc) || !strings.Contains(got, "(hidden)") {
		t.Errorf("scrub = %q", got)
	}
}

// TestSOPSSymlinkedSourceAndJSON: a secretGenerator source reached
// through a symlink inside the repository is decrypted like the file it
// leads to, and an encrypted .json manifest decrypts as JSON.
func TestSOPSSymlinkedSourceAndJSON(t *testing.T) {
	key := sopstest.NewKey(t)
	env := string(sopstest.Encrypt(t, []byte("API_KEY="+sopsValue+"\n"), sopsdecrypt.Dotenv, sopstest.Options{}, key.Recipient))
	js := string(sopstest.Encrypt(t, []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"js"},"stringData":{"k":"`+sopsValue+`-json"}}`), sopsdecrypt.JSON, kubeRegex, key.Recipient))
	root := writeFiles(t, map[string]string{
		"app/kustomization.yaml": "resources: [js.json]\nsecretGenerator:\n- name: api\n  envs: [linked.env]\ngeneratorOptions: {disableNameSuffixHash: true}\n",
		"app/secrets/api.env":    env,
		"app/js.json":            js,
	})
	if err := os.Symlink("secrets/api.env", filepath.Join(root, "app", "linked.env")); err != nil {
		t.Fatal(err)
	}
	out, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, key.Keys(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range out {
		got[o.obj.GetName()] = toYAML(t, []*unstructured.Unstructured{o.obj})
		if !o.src.Decrypted {
			t.Errorf("%s not marked Decrypted", describe(o.obj))
		}
	}
	if !strings.Contains(got["api"], base64.StdEncoding.EncodeToString([]byte(sopsValue))) || !strings.Contains(got["js"], sopsValue+"-json") {
		t.Errorf("not decrypted:\n%v", got)
	}
}

// TestSOPSSourceAliasBombRefusedFirst: a secretGenerator's YAML source
// that claims sops metadata is still held to the node limits (the render
// decodes it before handing it to sops's parser).
func TestSOPSSourceAliasBombRefusedFirst(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	bomb += "sops: {mac: x, version: 3.13.3}\n"
	root := writeFiles(t, map[string]string{
		"app/kustomization.yaml": "secretGenerator:\n- name: s\n  files: [bomb.yaml]\n",
		"app/bomb.yaml":          bomb,
	})
	_, _, err := renderWith(t, root, config.App{Name: "web", Path: "app"}, sopstest.NewKey(t).Keys(t))
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want the node limit", err)
	}
}
