// Package sopsdecrypt decrypts files encrypted with SOPS (getsops/sops)
// for age recipients, with age identities the server holds in memory. It
// is what render uses to turn an encrypted Secret in a repository into the
// Secret applied to the cluster.
//
// Decryption goes through sops's own stores, tree walk, AES-GCM cipher and
// MAC check; only the data key is opened here, with filippo.io/age and the
// identities given, never with identities read from the environment or a
// home directory, and never with a KMS, PGP or Vault key a file names
// (that would make a pull request's file choose which service the server
// calls). Errors never carry a decrypted value nor the library's own
// messages, which may quote a computed MAC.
package sopsdecrypt

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsconfig "github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	sopsjson "github.com/getsops/sops/v3/stores/json"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"google.golang.org/grpc"
)

// Format is how an encrypted file is laid out, as sops names it.
type Format string

// The formats gantry decrypts.
const (
	YAML   Format = "yaml"
	JSON   Format = "json"
	Dotenv Format = "dotenv"
	// Binary is sops's format for any other file: a JSON document whose
	// "data" holds the whole encrypted content.
	Binary Format = "binary"
)

// FormatOf returns the format sops infers from a file name's extension, as
// its command line does: .yaml/.yml, .json, .env; anything else is Binary.
func FormatOf(name string) Format {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return YAML
	case ".json":
		return JSON
	case ".env":
		return Dotenv
	}
	return Binary
}

// Keys are the age identities that may open one repository's files. The
// nil *Keys holds none: every encrypted file is refused with ErrNoKey.
type Keys struct {
	ids []age.Identity
	// recipients are the public keys of ids, for messages.
	recipients []string
}

// ParseKeys parses an age identity file's content (one AGE-SECRET-KEY-1…
// per line, "#" comments and blank lines ignored). Only native age
// identities are accepted: no SSH keys, no plugins (a plugin would start
// a process).
func ParseKeys(data []byte) (*Keys, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's message quotes no key material: it names the line kind.
		return nil, fmt.Errorf("parse age identities: %w", err)
	}
	k := &Keys{ids: ids}
	for _, id := range ids {
		switch i := id.(type) {
		case *age.X25519Identity:
			k.recipients = append(k.recipients, i.Recipient().String())
		case *age.HybridIdentity:
			k.recipients = append(k.recipients, i.Recipient().String())
		}
	}
	return k, nil
}

// LoadKeyFile reads and parses an age identity file.
func LoadKeyFile(file string) (*Keys, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read age key file: %w", err)
	}
	k, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("age key file %s: %w", file, err)
	}
	if len(k.ids) == 0 {
		return nil, fmt.Errorf("age key file %s holds no AGE-SECRET-KEY-1 identity", file)
	}
	return k, nil
}

// Join returns the identities of all of ks together (nil ones skipped);
// nil when none holds any.
func Join(ks ...*Keys) *Keys {
	var out Keys
	for _, k := range ks {
		if k != nil {
			out.ids = append(out.ids, k.ids...)
			out.recipients = append(out.recipients, k.recipients...)
		}
	}
	if len(out.ids) == 0 {
		return nil
	}
	return &out
}

// Recipients returns the public keys of the identities held, for
// messages and for encrypting test fixtures.
func (k *Keys) Recipients() []string {
	if k == nil {
		return nil
	}
	return append([]string(nil), k.recipients...)
}

// Errors a caller branches on; each *Error wraps one.
var (
	// ErrNoKey: the server holds no age key for the repository.
	ErrNoKey = errors.New("no age key for this repository")
	// ErrKeyMismatch: none of the keys held opens the file's data key.
	ErrKeyMismatch = errors.New("no age key held opens the file")
	// ErrMAC: the file's MAC does not match its content: it was changed
	// after it was encrypted, or its MAC was.
	ErrMAC = errors.New("MAC mismatch")
	// ErrMetadata: the sops metadata or an encrypted value is malformed.
	ErrMetadata = errors.New("invalid sops file")
)

// Error is a refused decryption. Reason is safe to show: it names no
// value, only what went wrong.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Reason }

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

// Result is a decrypted file.
type Result struct {
	// Plain is the file's cleartext, in its own format, without the sops
	// metadata.
	Plain []byte
	// Values are the cleartext of every encrypted value, for callers that
	// must keep them out of what they publish.
	Values []string
	// Recipients are the age recipients the file is encrypted for.
	Recipients []string
}

// Encrypted reports whether data, in format f, is a sops file: it has
// sops metadata that sops itself can read. A file that merely has a key
// named sops somewhere, or a top-level sops that is not sops's metadata,
// is not.
func Encrypted(data []byte, f Format) bool {
	if f == Binary && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		return false
	}
	if f == Dotenv && !bytes.Contains(data, []byte("sops_mac=")) {
		return false
	}
	if (f == YAML || f == JSON) && !bytes.Contains(data, []byte("sops")) {
		return false
	}
	_, err := load(data, f)
	return err == nil
}

// store returns sops's store for a format.
func store(f Format) (sops.Store, error) {
	switch f {
	case YAML:
		return sopsyaml.NewStore(&sopsconfig.YAMLStoreConfig{}), nil
	case JSON:
		return sopsjson.NewStore(&sopsconfig.JSONStoreConfig{Indent: -1}), nil
	case Dotenv:
		return dotenv.NewStore(&sopsconfig.DotenvStoreConfig{}), nil
	case Binary:
		return sopsjson.NewBinaryStore(&sopsconfig.JSONBinaryStoreConfig{Indent: -1}), nil
	}
	return nil, fmt.Errorf("unknown sops format %q", f)
}

// load parses an encrypted file into sops's tree, metadata checked.
func load(data []byte, f Format) (tree sops.Tree, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sops panicked reading the file: %v", p)
		}
	}()
	s, err := store(f)
	if err != nil {
		return sops.Tree{}, err
	}
	tree, err = s.LoadEncryptedFile(data)
	if err != nil {
		return sops.Tree{}, err
	}
	if tree.Metadata.Version == "" || tree.Metadata.MessageAuthenticationCode == "" || len(tree.Metadata.KeyGroups) == 0 {
		return sops.Tree{}, sops.MetadataNotFound
	}
	return tree, nil
}

// Decrypt decrypts a sops file in format f with k's identities and checks
// its MAC. A file with no sops metadata is ErrMetadata: callers decide
// with Encrypted first.
func (k *Keys) Decrypt(ctx context.Context, data []byte, f Format) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			// The panic's text could hold a value: it is not shown.
			res, err = Result{}, &Error{Reason: "sops failed on the file (internal error)", Err: ErrMetadata}
		}
	}()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	tree, err := load(data, f)
	if err != nil {
		return Result{}, &Error{Reason: "the sops metadata cannot be read (" + reason(err) + ")", Err: ErrMetadata}
	}
	res.Recipients = recipients(tree.Metadata)
	if k == nil || len(k.ids) == 0 {
		return Result{}, &Error{Reason: "the server holds no age key for this repository (sops: in the server configuration)", Err: ErrNoKey}
	}
	dataKey, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{ageService{k.ids}}, nil)
	if err != nil {
		msg := "none of the server's age keys for this repository opens the file"
		if len(res.Recipients) == 0 {
			msg += ": it is encrypted for no age recipient (gantry decrypts with age only)"
		} else {
			msg += fmt.Sprintf(": it is encrypted for %s", strings.Join(clip(res.Recipients), ", "))
		}
		return Result{}, &Error{Reason: msg, Err: ErrKeyMismatch}
	}
	c := &recorder{Cipher: aes.NewCipher()}
	computed, err := tree.Decrypt(dataKey, c)
	if err != nil {
		return Result{}, &Error{Reason: "an encrypted value does not decrypt with the file's data key (the file was changed after it was encrypted)", Err: ErrMAC}
	}
	stored, err := aes.NewCipher().Decrypt(tree.Metadata.MessageAuthenticationCode, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return Result{}, &Error{Reason: "MAC mismatch: the stored MAC does not decrypt (the file's MAC or lastmodified was changed)", Err: ErrMAC}
	}
	if s, ok := stored.(string); !ok || s != computed {
		return Result{}, &Error{Reason: "MAC mismatch: the file's content was changed after it was encrypted", Err: ErrMAC}
	}
	s, err := store(f)
	if err != nil {
		return Result{}, err
	}
	plain, err := s.EmitPlainFile(tree.Branches)
	if err != nil {
		return Result{}, &Error{Reason: "the decrypted content cannot be written back as " + string(f), Err: ErrMetadata}
	}
	res.Plain = plain
	res.Values = c.values
	return res, nil
}

// reason is a short cause for metadata that cannot be read: sops's own
// message when it is one of its fixed ones, else a generic phrase (a YAML
// or JSON parser's message may quote the file).
func reason(err error) string {
	if errors.Is(err, sops.MetadataNotFound) {
		return "no sops metadata: version, mac and a key group are required"
	}
	return "malformed file or metadata"
}

// recipients lists the age recipients of a file's key groups.
func recipients(m sops.Metadata) []string {
	var out []string
	for _, g := range m.KeyGroups {
		for _, key := range g {
			if key.TypeToIdentifier() == "age" {
				out = append(out, key.ToString())
			}
		}
	}
	return out
}

// clip shortens recipients a pull request wrote, for a message.
func clip(rs []string) []string {
	const maxShown, maxLen = 5, 80
	var out []string
	for i, r := range rs {
		if i == maxShown {
			out = append(out, fmt.Sprintf("and %d more", len(rs)-maxShown))
			break
		}
		r = strings.Map(func(c rune) rune {
			if c < 0x20 || c == 0x7f || c == '`' {
				return '?'
			}
			return c
		}, r)
		if len(r) > maxLen {
			r = r[:maxLen] + "…"
		}
		out = append(out, r)
	}
	return out
}

// recorder is sops's AES cipher that keeps every value it decrypts.
type recorder struct {
	sops.Cipher
	values []string
}

// Decrypt decrypts one value and records its cleartext.
func (r *recorder) Decrypt(ciphertext string, key []byte, additionalData string) (any, error) {
	v, err := r.Cipher.Decrypt(ciphertext, key, additionalData)
	if err != nil {
		return nil, err
	}
	if b, err := sops.ToBytes(v); err == nil && len(b) > 0 {
		r.values = append(r.values, string(b))
	}
	return v, nil
}

// ageService is a sops key service that opens age-encrypted data keys
// with in-memory identities, and refuses every other kind of key: a file
// cannot make the server call a KMS, Vault or an agent.
type ageService struct{ ids []age.Identity }

// Encrypt refuses: gantry never encrypts.
func (ageService) Encrypt(context.Context, *keyservice.EncryptRequest, ...grpc.CallOption) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("gantry does not encrypt")
}

// maxDataKey bounds the data key an age stanza may hold; sops's is 32
// bytes.
const maxDataKey = 1 << 10

// Decrypt opens an age-encrypted data key.
func (s ageService) Decrypt(_ context.Context, req *keyservice.DecryptRequest, _ ...grpc.CallOption) (*keyservice.DecryptResponse, error) {
	if req.GetKey().GetAgeKey() == nil {
		return nil, errors.New("not an age key")
	}
	r, err := age.Decrypt(armor.NewReader(bufio.NewReader(bytes.NewReader(req.GetCiphertext()))), s.ids...)
	if err != nil {
		return nil, errors.New("no identity matched")
	}
	key, err := io.ReadAll(io.LimitReader(r, maxDataKey+1))
	if err != nil || len(key) > maxDataKey {
		return nil, errors.New("unreadable data key")
	}
	return &keyservice.DecryptResponse{Plaintext: key}, nil
}
