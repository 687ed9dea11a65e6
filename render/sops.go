package render

import (
	"cmp"
	"encoding/base64"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/secretmask"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// SOPS-encrypted files are decrypted as they are read, as Flux's
// kustomize-controller does:
//   - a manifest (plain-YAML app, Kustomize resource or patch) whose
//     document has a top-level sops key is decrypted whole; every document
//     of it must be a v1 Secret, so a decrypted value can only land where
//     the plan masks it;
//   - a file a secretGenerator names (files: by extension, envs: and env:
//     as dotenv) is decrypted when it is a sops file.
//
// Helm values files are not decrypted (Flux's helm-controller does not
// either); an encrypted one is refused by name. After the render, no
// decrypted value may be found outside a Secret's data and stringData
// (a configMapGenerator, a replacement or a patch could copy one out), no
// object may keep a top-level sops key, and render errors are scrubbed of
// decrypted values.

// ErrSOPS is the cause of a refused encrypted file.
var ErrSOPS = errors.New("sops decryption refused")

// sopsState is what one app's render knows of encrypted files.
type sopsState struct {
	// keys open the repository's files; nil holds none.
	keys *sopsdecrypt.Keys
	// secretSources are the files secretGenerators name, with the format
	// they are decrypted in.
	secretSources map[string]sopsdecrypt.Format

	mu sync.Mutex
	// values are the cleartext values decrypted so far.
	values map[string]bool
	// files are the manifests decrypted so far.
	files map[string]bool
}

// sourceFormat returns the format of a secretGenerator's source file,
// found by its name or by where its symlinks lead.
func (s *sopsState) sourceFormat(f *repoFS, file string) (sopsdecrypt.Format, bool) {
	if len(s.secretSources) == 0 {
		return "", false
	}
	if format, ok := s.secretSources[file]; ok {
		return format, true
	}
	real, err := f.fs.Resolve(file)
	if err != nil {
		return "", false
	}
	format, ok := s.secretSources[real]
	return format, ok
}

// minTaint is the shortest decrypted value looked for outside Secrets:
// shorter ones ("true", "80") are found everywhere by chance.
const minTaint = 6

// record keeps decrypted values.
func (s *sopsState) record(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]bool{}
	}
	for _, v := range vals {
		if v != "" {
			s.values[v] = true
		}
	}
}

// recordFile keeps the name of a decrypted manifest.
func (s *sopsState) recordFile(file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string]bool{}
	}
	s.files[file] = true
}

// fromDecrypted reports whether an object's source is a decrypted
// manifest, or a kustomization (a secretGenerator's output).
func (s *sopsState) fromDecrypted(src Source) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[src.File] || isKustomization(src.File)
}

// any reports whether anything was decrypted.
func (s *sopsState) any() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values) > 0
}

// forms returns every decrypted value in each form text could carry it
// (raw, base64, base64-decoded), longest first, at least min bytes long.
func (s *sopsState) forms(min int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if len(v) >= min && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for v := range s.values {
		add(v)
		add(base64.StdEncoding.EncodeToString([]byte(v)))
		if d, err := base64.StdEncoding.DecodeString(v); err == nil {
			add(string(d))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return out
}

// decrypted reports whether v (a Secret's data or stringData value) is a
// decrypted value, as it is or base64-decoded.
func (s *sopsState) decrypted(v string, data bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values[v] {
		return true
	}
	if data {
		if d, err := base64.StdEncoding.DecodeString(v); err == nil && s.values[string(d)] {
			return true
		}
	}
	return false
}

// sopsKeyLine finds the line of a top-level sops key in YAML or JSON text.
var sopsKeyLine = regexp.MustCompile(`(?m)^(sops:|\s*"sops"\s*:)`)

// lineOf returns the 1-based line of the first match of re in data, or 0.
func lineOf(data []byte, re *regexp.Regexp) int {
	loc := re.FindIndex(data)
	if loc == nil {
		return 0
	}
	return 1 + strings.Count(string(data[:loc[0]]), "\n")
}

// hasTopLevelSOPS reports whether any document is a mapping with a sops
// key.
func hasTopLevelSOPS(docs []document) bool {
	for _, d := range docs {
		if m, ok := d.Value.(map[string]any); ok {
			if _, ok := m["sops"]; ok {
				return true
			}
		}
	}
	return false
}

// decryptManifest returns a manifest's cleartext and documents when it is
// a SOPS-encrypted file, and data and docs unchanged otherwise. The
// documents keep the lines of the encrypted file, which is what the pull
// request shows.
func (f *repoFS) decryptManifest(file string, data []byte, docs []document) ([]byte, []document, error) {
	if !hasTopLevelSOPS(docs) {
		return data, docs, nil
	}
	format := sopsdecrypt.FormatOf(file)
	line := lineOf(data, sopsKeyLine)
	if !sopsdecrypt.Encrypted(data, format) {
		return nil, nil, fileError(file, line, ErrSOPS,
			"%s has a top-level sops key that is not SOPS metadata (version, mac, a key group): a Kubernetes object has no such field, and an encrypted file needs all three", file)
	}
	res, err := f.sops.keys.Decrypt(f.ctx, data, format)
	if err != nil {
		return nil, nil, sopsError(file, line, err)
	}
	f.sops.record(res.Values...)
	f.sops.recordFile(file)
	lines := docLines(docs)
	docs, err = f.decode(file, res.Plain)
	if err != nil {
		// The decoder's message may quote a decrypted value.
		return nil, nil, fileError(file, line, ErrSOPS, "%s decrypts to YAML gantry cannot read", file)
	}
	if len(docs) != len(lines) {
		return nil, nil, fileError(file, line, ErrSOPS, "%s decrypts to %d documents, the encrypted file has %d", file, len(docs), len(lines))
	}
	for i := range docs {
		docs[i].Line = lines[i]
		m, _ := docs[i].Value.(map[string]any)
		if kind, _ := m["kind"].(string); kind != "Secret" || m["apiVersion"] != "v1" || docs[i].ItemLines != nil {
			return nil, nil, fileError(file, lines[i], ErrSOPS,
				"%s is SOPS-encrypted but a document of it is not a v1 Secret: gantry decrypts Secrets only, whose values the plan never shows", file)
		}
	}
	return res.Plain, docs, nil
}

// docLines returns the start lines of documents.
func docLines(docs []document) []int {
	out := make([]int, len(docs))
	for i, d := range docs {
		out[i] = d.Line
	}
	return out
}

// decryptSource returns the cleartext of a secretGenerator's source file
// when it is a sops file, and data unchanged otherwise.
func (f *repoFS) decryptSource(file string, data []byte, format sopsdecrypt.Format) ([]byte, error) {
	if !sopsdecrypt.Encrypted(data, format) {
		return data, nil
	}
	res, err := f.sops.keys.Decrypt(f.ctx, data, format)
	if err != nil {
		return nil, sopsError(file, 0, err)
	}
	// The whole cleartext becomes one Secret value for files:, each
	// entry one for envs:.
	f.sops.record(append(res.Values, string(res.Plain))...)
	return res.Plain, nil
}

// sopsError locates a refused decryption; the reason names no value.
func sopsError(file string, line int, err error) *Error {
	var se *sopsdecrypt.Error
	if errors.As(err, &se) {
		return &Error{File: file, Line: line, Msg: "decrypt " + file + ": " + se.Reason, Err: errors.Join(ErrSOPS, se.Err)}
	}
	return &Error{File: file, Line: line, Msg: "decrypt " + file + ": not decrypted", Err: errors.Join(ErrSOPS, err)}
}

// checkDecrypted runs after a render: no object keeps a top-level sops
// key, no decrypted value is found outside a Secret's data or stringData,
// and a Secret whose every value was decrypted is marked so in its
// source (the starter pack's no-plain-secret rule lets it through, and
// policies see its values masked).
func (f *repoFS) checkDecrypted(out []rendered) []error {
	var errs []error
	for _, o := range out {
		if _, ok := o.obj.Object["sops"]; ok {
			errs = append(errs, fileError(o.src.File, o.src.Line, ErrSOPS,
				"%s keeps a top-level sops key: it is SOPS-encrypted content gantry did not decrypt (Helm values and configMapGenerator files are not decrypted)", describe(o.obj)))
		}
	}
	if !f.sops.any() {
		return errs
	}
	forms := f.sops.forms(minTaint)
	for i := range out {
		o := &out[i]
		secret := secretmask.IsSecret(o.obj)
		if leaks(o.obj.Object, forms, secret, 0) {
			errs = append(errs, fileError(o.src.File, o.src.Line, ErrSOPS,
				"%s holds a value decrypted from a SOPS file outside a Secret's data: refused, so that it never shows in a plan", describe(o.obj)))
			continue
		}
		if secret {
			// Both where it comes from and what it holds: a plain Secret
			// that happens to share a value is not encrypted in Git, nor is
			// a decrypted one a patch added a plain key to.
			o.src.Decrypted = f.sops.fromDecrypted(o.src) && f.allDecrypted(o.obj)
		}
	}
	return errs
}

// allDecrypted reports whether a Secret has values and every one of them
// was decrypted.
func (f *repoFS) allDecrypted(u *unstructured.Unstructured) bool {
	n := 0
	for field, data := range map[string]bool{"data": true, "stringData": false} {
		m, _ := u.Object[field].(map[string]any)
		for _, v := range m {
			s, ok := v.(string)
			if !ok || !f.sops.decrypted(s, data) {
				return false
			}
			n++
		}
	}
	return n > 0
}

// leaks reports whether any string of v contains one of forms; in a
// Secret (secret at depth 0), the values of data and stringData are where
// decrypted values belong and are not looked at.
func leaks(v any, forms []string, secret bool, depth int) bool {
	switch x := v.(type) {
	case string:
		for _, t := range forms {
			if strings.Contains(x, t) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if secret && depth == 0 && (k == "data" || k == "stringData") {
				continue
			}
			if leaks(k, forms, false, depth+1) || leaks(e, forms, false, depth+1) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if leaks(e, forms, false, depth+1) {
				return true
			}
		}
	}
	return false
}

// scrub removes decrypted values from a render error's message.
func (f *repoFS) scrub(msg string) string {
	if !f.sops.any() {
		return msg
	}
	return secretmask.Scrub(msg, f.sops.forms(3))
}
