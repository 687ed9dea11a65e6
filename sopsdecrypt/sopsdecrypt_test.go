package sopsdecrypt_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/gantryops/gantry/sopsdecrypt"
	"github.com/gantryops/gantry/sopsdecrypt/sopstest"
)

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: apps
type: Opaque
stringData:
  password: s3cr3t-hunter2-value
`

var kube = sopstest.Options{EncryptedRegex: "^(data|stringData)$"}

func TestDecryptRoundTrip(t *testing.T) {
	key := sopstest.NewKey(t)
	for _, tc := range []struct {
		name   string
		f      sopsdecrypt.Format
		plain  string
		want   []string // substrings of the cleartext
		values []string
	}{
		{"yaml", sopsdecrypt.YAML, secretYAML, []string{"password: s3cr3t-hunter2-value", "name: db"}, []string{"s3cr3t-hunter2-value"}},
		{"json", sopsdecrypt.JSON, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"s3cr3t-hunter2-value"}}`, []string{`"s3cr3t-hunter2-value"`}, []string{"s3cr3t-hunter2-value"}},
		{"dotenv", sopsdecrypt.Dotenv, "TOKEN=tok-123456789\nUSER=admin-user\n", []string{"TOKEN=tok-123456789", "USER=admin-user"}, []string{"tok-123456789", "admin-user"}},
		{"binary", sopsdecrypt.Binary, "-----BEGIN KEY-----\nabcdef\n", []string{"-----BEGIN KEY-----\nabcdef\n"}, []string{"-----BEGIN KEY-----\nabcdef\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := sopstest.Options{}
			if tc.f == sopsdecrypt.YAML || tc.f == sopsdecrypt.JSON {
				opts = kube
			}
			enc := sopstest.Encrypt(t, []byte(tc.plain), tc.f, opts, key.Recipient)
			for _, v := range tc.values {
				if bytes.Contains(enc, []byte(v)) {
					t.Fatalf("fixture is not encrypted: %q in\n%s", v, enc)
				}
			}
			if !sopsdecrypt.Encrypted(enc, tc.f) {
				t.Fatalf("Encrypted = false for a sops file:\n%s", enc)
			}
			res, err := key.Keys(t).Decrypt(context.Background(), enc, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(res.Plain), w) {
					t.Errorf("cleartext lacks %q:\n%s", w, res.Plain)
				}
			}
			if strings.Contains(string(res.Plain), "sops") {
				t.Errorf("cleartext keeps the sops metadata:\n%s", res.Plain)
			}
			for _, v := range tc.values {
				found := false
				for _, got := range res.Values {
					found = found || got == v
				}
				if !found {
					t.Errorf("Values %q lack %q", res.Values, v)
				}
			}
			if len(res.Recipients) != 1 || res.Recipients[0] != key.Recipient {
				t.Errorf("Recipients = %q, want [%s]", res.Recipients, key.Recipient)
			}
		})
	}
}

// TestDecryptRefusals: each way a file can fail to open is refused with
// its own sentinel, and no message carries the cleartext or a MAC.
func TestDecryptRefusals(t *testing.T) {
	key, other := sopstest.NewKey(t), sopstest.NewKey(t)
	enc := sopstest.Encrypt(t, []byte(secretYAML), sopsdecrypt.YAML, kube, key.Recipient)
	tamperedValue := tamper(t, enc)
	tamperedPlain := bytes.Replace(enc, []byte("name: db"), []byte("name: dc"), 1)
	for _, tc := range []struct {
		name string
		keys *sopsdecrypt.Keys
		data []byte
		want error
		msg  string
	}{
		{"no key", nil, enc, sopsdecrypt.ErrNoKey, "no age key"},
		{"wrong key", other.Keys(t), enc, sopsdecrypt.ErrKeyMismatch, key.Recipient},
		{"tampered unencrypted field", key.Keys(t), tamperedPlain, sopsdecrypt.ErrMAC, "MAC mismatch"},
		{"tampered ciphertext", key.Keys(t), tamperedValue, sopsdecrypt.ErrMAC, "changed after it was encrypted"},
		{"not sops", key.Keys(t), []byte(secretYAML + "sops: {note: not metadata}\n"), sopsdecrypt.ErrMetadata, "sops metadata cannot be read"},
		// A file naming only a KMS key is not opened through the KMS (no
		// network, no credentials from the environment).
		{"kms only", key.Keys(t), kmsOnly(enc), sopsdecrypt.ErrKeyMismatch, "no age recipient"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.keys.Decrypt(context.Background(), tc.data, sopsdecrypt.YAML)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q, want it to say %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "hunter2") || regexp.MustCompile(`[0-9A-F]{64}`).MatchString(err.Error()) {
				t.Errorf("err = %q shows a value or a MAC", err)
			}
		})
	}
}

// TestNotEncrypted: files that merely mention sops are not sops files.
func TestNotEncrypted(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		f    sopsdecrypt.Format
	}{
		{"plain secret", secretYAML, sopsdecrypt.YAML},
		{"nested sops key", "kind: ConfigMap\ndata:\n  sops: yes\n", sopsdecrypt.YAML},
		{"top-level sops, not metadata", "kind: ConfigMap\nsops:\n  enabled: true\n", sopsdecrypt.YAML},
		{"dotenv", "SOPS=1\nA=b\n", sopsdecrypt.Dotenv},
		{"binary", "just bytes sops", sopsdecrypt.Binary},
		{"json", `{"sops": 1}`, sopsdecrypt.JSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if sopsdecrypt.Encrypted([]byte(tc.data), tc.f) {
				t.Errorf("Encrypted(%q) = true", tc.data)
			}
		})
	}
}

// TestParseKeysRefusesGarbage: a key file is age identities or an error.
func TestParseKeysRefusesGarbage(t *testing.T) {
	if _, err := sopsdecrypt.ParseKeys([]byte("not a key\n")); err == nil {
		t.Fatal("ParseKeys accepted garbage")
	}
	k := sopstest.NewKey(t)
	ks, err := sopsdecrypt.ParseKeys([]byte("# created by a test\n" + k.Identity))
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Recipients(); len(got) != 1 || got[0] != k.Recipient {
		t.Errorf("Recipients = %q, want [%s]", got, k.Recipient)
	}
	if sopsdecrypt.Join(nil, nil) != nil {
		t.Error("Join of nothing is not nil")
	}
}

// tamper flips one character inside the first ENC[...] ciphertext.
func tamper(t *testing.T, enc []byte) []byte {
	t.Helper()
	i := bytes.Index(enc, []byte("ENC[AES256_GCM,data:"))
	if i < 0 {
		t.Fatalf("no encrypted value in\n%s", enc)
	}
	out := bytes.Clone(enc)
	j := i + len("ENC[AES256_GCM,data:")
	if out[j] == 'A' {
		out[j] = 'B'
	} else {
		out[j] = 'A'
	}
	return out
}

// kmsOnly replaces the file's age key group with an AWS KMS key: the
// server must not try to reach it.
func kmsOnly(enc []byte) []byte {
	s := string(enc)
	i := strings.Index(s, "    age:")
	j := strings.Index(s, "    lastmodified:")
	if i < 0 || j < 0 {
		return enc
	}
	kms := "    kms:\n        - arn: arn:aws:kms:us-east-1:000000000000:key/attacker\n          enc: AQICAHg=\n          created_at: \"2026-01-01T00:00:00Z\"\n          aws_profile: \"\"\n"
	return []byte(s[:i] + kms + s[j:])
}

// BenchmarkDecryptSecret measures one Secret's decryption: the age
// stanza (X25519), the values (AES-GCM) and the MAC.
func BenchmarkDecryptSecret(b *testing.B) {
	key := sopstest.NewKey(b)
	enc := sopstest.Encrypt(b, []byte(secretYAML), sopsdecrypt.YAML, kube, key.Recipient)
	ks := key.Keys(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ks.Decrypt(context.Background(), enc, sopsdecrypt.YAML); err != nil {
			b.Fatal(err)
		}
	}
}
