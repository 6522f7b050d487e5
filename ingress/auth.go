package ingress

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Token is one API token, as stored: its name (the actor of the commands
// it issues), the one tenant it may read and write, and the SHA-256 of the
// secret. The secret itself is never stored or logged.
type Token struct {
	Name   string
	Tenant string
	SHA256 [sha256.Size]byte
}

// HashToken returns the stored form of a secret token.
func HashToken(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// tokensFile is the tokens file's shape:
// {"tokens":[{"name":"ci-bot","tenant":"acme","sha256":"<hex>"}]}.
type tokensFile struct {
	Tokens []struct {
		Name   string `json:"name"`
		Tenant string `json:"tenant"`
		SHA256 string `json:"sha256"`
	} `json:"tokens"`
}

// LoadTokens reads an API tokens file.
func LoadTokens(path string) ([]Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ingress: load tokens: %w", err)
	}
	toks, err := ParseTokens(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return toks, nil
}

// ParseTokens parses the tokens file's JSON.
func ParseTokens(b []byte) ([]Token, error) {
	var f tokensFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("ingress: parse tokens: %w", err)
	}
	var out []Token
	for i, t := range f.Tokens {
		h, err := hex.DecodeString(strings.TrimSpace(t.SHA256))
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("ingress: token %d (%q): sha256 must be 64 hex digits", i, t.Name)
		}
		tok := Token{Name: t.Name, Tenant: t.Tenant}
		copy(tok.SHA256[:], h)
		out = append(out, tok)
	}
	if err := validateTokens(out); err != nil {
		return nil, err
	}
	return out, nil
}

func validateTokens(toks []Token) error {
	names := map[string]bool{}
	for i, t := range toks {
		if t.Name == "" || t.Tenant == "" {
			return fmt.Errorf("ingress: token %d: name and tenant are required", i)
		}
		if names[t.Name] {
			return fmt.Errorf("ingress: token name %q listed twice", t.Name)
		}
		names[t.Name] = true
		if t.SHA256 == [sha256.Size]byte{} {
			return fmt.Errorf("ingress: token %q has no hash", t.Name)
		}
	}
	return nil
}

// principal is who an authenticated API request acts as.
type principal struct {
	Name   string
	Tenant string
}

// authenticate checks the request's bearer token against every stored
// hash, in constant time per comparison and without stopping at the first
// match, so timing reveals neither which token matched nor how much of it.
func authenticate(toks []Token, r *http.Request) (principal, bool) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return principal{}, false
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return principal{}, false
	}
	sum := HashToken(secret)
	found := -1
	for i := range toks {
		if subtle.ConstantTimeCompare(sum[:], toks[i].SHA256[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, false
	}
	return principal{Name: toks[found].Name, Tenant: toks[found].Tenant}, true
}
