// Package sopstest makes SOPS-encrypted fixtures for tests: a fresh age key
// per test and files encrypted with sops's own library, as the sops command
// line encrypts them. Nothing here is used by the product.
package sopstest

import (
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"

	"github.com/gantryops/gantry/sopsdecrypt"
)

// Key is a generated age key pair.
type Key struct {
	// Identity is the private key file's content (AGE-SECRET-KEY-1…).
	Identity string
	// Recipient is the public key (age1…).
	Recipient string
}

// NewKey generates an age key for one test.
func NewKey(t testing.TB) Key {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return Key{Identity: id.String() + "\n", Recipient: id.Recipient().String()}
}

// Keys returns the key parsed as the server holds it.
func (k Key) Keys(t testing.TB) *sopsdecrypt.Keys {
	t.Helper()
	ks, err := sopsdecrypt.ParseKeys([]byte(k.Identity))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// Options are sops's creation settings a fixture may use.
type Options struct {
	// EncryptedRegex limits encryption to matching keys, as
	// `sops --encrypted-regex '^(data|stringData)$'` (the setting Flux
	// recommends for Kubernetes Secrets). Empty encrypts every value.
	EncryptedRegex string
}

// Encrypt encrypts plain (in format f) for the recipients, as `sops
// --encrypt` would, and returns the encrypted file.
func Encrypt(t testing.TB, plain []byte, f sopsdecrypt.Format, opts Options, recipients ...string) []byte {
	t.Helper()
	var store sops.Store
	switch f {
	case sopsdecrypt.YAML:
		store = sopsyaml.NewStore(&sopsconfig.YAMLStoreConfig{})
	case sopsdecrypt.JSON:
		store = sopsjson.NewStore(&sopsconfig.JSONStoreConfig{Indent: -1})
	case sopsdecrypt.Dotenv:
		store = dotenv.NewStore(&sopsconfig.DotenvStoreConfig{})
	default:
		store = sopsjson.NewBinaryStore(&sopsconfig.JSONBinaryStoreConfig{Indent: -1})
	}
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		mk, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, keys.MasterKey(mk))
	}
	tree := sops.Tree{Branches: branches, Metadata: sops.Metadata{
		KeyGroups:      []sops.KeyGroup{group},
		EncryptedRegex: opts.EncryptedRegex,
		Version:        "3.13.3", // the sops release gantry builds with
	}}
	dataKey, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, c)
	if err != nil {
		t.Fatal(err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	if tree.Metadata.MessageAuthenticationCode, err = c.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	out, err := store.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
