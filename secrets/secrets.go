// Package secrets keeps the operator's secrets (API keys, tokens) out of
// config files and out of jails: an encrypted store (filippo.io/age, one
// X25519 identity), environment variables OPENCLAW_<NAME>, and providers
// that fetch a value from a file or a command (vault, aws secretsmanager).
//
// A secret enters a jail only when a call or a profile names it
// (secretEnv: {VAR: name}); its value is redacted from logs and audit.
package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"
)

var nameRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`) })

// ValidName reports whether n may name a secret (it becomes part of an
// environment variable name).
func ValidName(n string) bool { return nameRe().MatchString(n) }

// Store is the encrypted store: <dir>/secrets.age (0600), encrypted to the
// identity in <dir>/secrets.key (0600) or OPENCLAW_SECRETS_KEY.
type Store struct {
	dir string
}

// Open returns the store in dir.
func Open(dir string) *Store { return &Store{dir: dir} }

func (s *Store) file() string    { return filepath.Join(s.dir, "secrets.age") }
func (s *Store) keyFile() string { return filepath.Join(s.dir, "secrets.key") }

// identity loads the age identity, creating the key file (0600) on first
// use unless the key comes from OPENCLAW_SECRETS_KEY.
func (s *Store) identity(create bool) (*age.X25519Identity, error) {
	if k := os.Getenv("OPENCLAW_SECRETS_KEY"); k != "" {
		id, err := age.ParseX25519Identity(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("OPENCLAW_SECRETS_KEY: %w", err)
		}
		return id, nil
	}
	b, err := os.ReadFile(s.keyFile())
	if errors.Is(err, os.ErrNotExist) && create {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeFile(s.keyFile(), []byte(id.String()+"\n")); err != nil {
			return nil, fmt.Errorf("secrets: store the key: %w", err)
		}
		return id, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: key: %w", err)
	}
	if st, _ := os.Stat(s.keyFile()); st != nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets: %s is readable by others (%o); chmod 600 it", s.keyFile(), st.Mode().Perm())
	}
	return age.ParseX25519Identity(strings.TrimSpace(string(b)))
}

// load decrypts the whole store.
func (s *Store) load(create bool) (map[string]string, *age.X25519Identity, error) {
	id, err := s.identity(create)
	if err != nil {
		return nil, nil, err
	}
	m := map[string]string{}
	f, err := os.Open(s.file())
	if errors.Is(err, os.ErrNotExist) {
		return m, id, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, err := age.Decrypt(f, id)
	if err != nil {
		return nil, nil, s.damaged(err)
	}
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, nil, s.damaged(err)
	}
	return m, id, nil
}

// damaged is the one-line error of a store that cannot be read: which
// file, why (quoted: a damaged file puts its bytes in the reason), and
// the fixes.
func (s *Store) damaged(err error) error {
	return fmt.Errorf("secrets: %s is damaged or not encrypted to %s (%s): restore both from a backup (openclaw-run restore ARCHIVE), "+
		"or move it aside and set the secrets again (openclaw-run secrets set NAME -)", s.file(), s.keyFile(), strconv.QuoteToGraphic(err.Error()))
}

func (s *Store) save(m map[string]string, id *age.X25519Identity) error {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		return err
	}
	if err := json.NewEncoder(w).Encode(m); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return writeFile(s.file(), buf.Bytes())
}

// writeFile writes atomically with mode 0600.
func writeFile(path string, data []byte) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, time.Now().UnixNano())
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// lock serialises writers of the store.
func (s *Store) lock() (func(), error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, "secrets.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Set stores a secret.
func (s *Store) Set(name, value string) error {
	if !ValidName(name) {
		return fmt.Errorf("secrets: %q is not a valid name (letters, digits, _)", name)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	m, id, err := s.load(true)
	if err != nil {
		return err
	}
	m[name] = value
	return s.save(m, id)
}

// Remove deletes a secret.
func (s *Store) Remove(name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	m, id, err := s.load(false)
	if err != nil {
		return err
	}
	if _, ok := m[name]; !ok {
		return fmt.Errorf("secrets: no secret %q", name)
	}
	delete(m, name)
	return s.save(m, id)
}

// Names lists the stored names (never the values).
func (s *Store) Names() ([]string, error) {
	m, _, err := s.load(false)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Resolver finds a secret's value: the environment (OPENCLAW_<NAME>) first,
// then the configured provider.
type Resolver struct {
	Store    *Store
	Provider string   // store (default), env, file, exec, aws-secrets-manager
	File     string   // file: a JSON object of name -> value
	Command  []string // exec: run with the name appended; the value is its stdout
	Region   string
	Prefix   string
	// Declared are the names the operator declared as secrets a call may
	// ask for (secrets.names); the names in the store (provider store) and
	// in the file (provider file) are declared by being there.
	Declared []string
	// Reserved are the names of the operator's own credentials besides
	// Builtin (sessions.store.passwordSecret, the clients' tokenSecret):
	// no call resolves them.
	Reserved []string
}

// Builtin are the secret names that are the gateway's own credentials:
// OPENCLAW_GATEWAY_TOKEN and OPENCLAW_SECRETS_KEY. No call resolves them,
// declared or not.
var Builtin = []string{"GATEWAY_TOKEN", "SECRETS_KEY"}

// IsReserved reports whether name is one of the gateway's own credentials.
func (r *Resolver) IsReserved(name string) bool {
	for _, l := range [][]string{Builtin, r.Reserved} {
		for _, n := range l {
			if strings.EqualFold(n, name) {
				return true
			}
		}
	}
	return false
}

// ForCall returns the value of a secret that a call names (exec
// secretEnv): only a declared name, never a reserved one. Get, without
// these checks, is the operator's own lookup (secrets get, the gateway's
// store password).
func (r *Resolver) ForCall(name string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("secrets: %q is not a valid name", name)
	}
	if r.IsReserved(name) {
		return "", fmt.Errorf("secrets: %q is one of the gateway's own credentials; it never enters a jail", name)
	}
	declared, err := r.declared(name)
	if err != nil {
		return "", err
	}
	if !declared {
		return "", fmt.Errorf("secrets: %q is not a declared secret (list it in secrets.names, or set it with: openclaw-run secrets set %s -)", name, name)
	}
	return r.Get(name)
}

// declared reports whether the operator declared name: in Declared, or
// present in the store or the file of the provider.
func (r *Resolver) declared(name string) (bool, error) {
	for _, n := range r.Declared {
		if n == name {
			return true, nil
		}
	}
	var m map[string]string
	switch r.Provider {
	case "", "store":
		if r.Store == nil {
			return false, nil
		}
		var err error
		if m, _, err = r.Store.load(false); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return false, nil
			}
			return false, err
		}
	case "file":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return false, fmt.Errorf("secrets: %w", err)
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return false, fmt.Errorf("secrets: %s: %w", r.File, err)
		}
	}
	_, ok := m[name]
	return ok, nil
}

// Get returns the value of a secret.
func (r *Resolver) Get(name string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("secrets: %q is not a valid name", name)
	}
	if v, ok := os.LookupEnv("OPENCLAW_" + name); ok {
		return v, nil
	}
	switch r.Provider {
	case "", "store":
		m, _, err := r.Store.load(false)
		if err != nil {
			return "", err
		}
		if v, ok := m[name]; ok {
			return v, nil
		}
	case "env":
	case "file":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return "", fmt.Errorf("secrets: %w", err)
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return "", fmt.Errorf("secrets: %s: %w", r.File, err)
		}
		if v, ok := m[name]; ok {
			return v, nil
		}
	case "exec", "aws-secrets-manager":
		argv := r.Command
		if r.Provider == "aws-secrets-manager" && len(argv) == 0 {
			// The guide's AWS provider, as a command: the aws CLI with the
			// configured region, the name under the prefix.
			argv = []string{"aws", "secretsmanager", "get-secret-value", "--region", r.Region, "--query", "SecretString", "--output", "text", "--secret-id"}
			name = r.Prefix + name
		}
		if len(argv) == 0 {
			return "", errors.New("secrets: the exec provider needs secrets.command")
		}
		cmd := exec.Command(argv[0], append(argv[1:], name)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("secrets: %s: %v: %s", argv[0], err, strings.TrimSpace(errb.String()))
		}
		return strings.TrimRight(out.String(), "\r\n"), nil
	default:
		return "", fmt.Errorf("secrets: unknown provider %q", r.Provider)
	}
	return "", fmt.Errorf("secrets: no secret %q (set it with: openclaw-run secrets set %s -)", name, name)
}

// ReadValue reads a value from stdin for "secrets set NAME -".
func ReadValue(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	return strings.TrimRight(string(b), "\r\n"), err
}
