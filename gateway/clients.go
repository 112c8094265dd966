package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/openclaw-run/openclaw-run/config"
)

// Client is who made a request: one of gateway.auth.clients, or the
// operator (the gateway's own token, and transports without a token of
// their own: MCP over stdio). A client may use some sessions and some
// profiles; the audit log names it.
type Client struct {
	// Name is "" for the operator.
	Name string
	sum  [32]byte // sha256 of the token
	// Sessions: "own" (those it created), "prefix" (ids beginning with
	// Prefix) or "any".
	Sessions, Prefix string
	// Profiles the client may name; the first is its default.
	Profiles []string
	Admin    bool
}

// ResolveClients reads the tokens of gateway.auth.clients: from the file,
// the secret store (secret looks a name up), or the config itself.
func ResolveClients(cfg *config.Config, secret func(name string) (string, error)) ([]*Client, error) {
	var out []*Client
	seen := map[[32]byte]string{}
	for _, cc := range cfg.Gateway.Auth.Clients {
		tok := cc.Token
		switch {
		case cc.TokenFile != "":
			path := config.ExpandHome(cc.TokenFile)
			st, err := os.Stat(path)
			if err != nil {
				return nil, fmt.Errorf("gateway.auth.clients %s: tokenFile: %w", cc.Name, err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				return nil, fmt.Errorf("gateway.auth.clients %s: %s is readable by others (%o); chmod 600 it", cc.Name, path, st.Mode().Perm())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("gateway.auth.clients %s: tokenFile: %w", cc.Name, err)
			}
			tok = strings.TrimSpace(string(b))
		case cc.TokenSecret != "":
			v, err := secret(cc.TokenSecret)
			if err != nil {
				return nil, fmt.Errorf("gateway.auth.clients %s: tokenSecret: %w", cc.Name, err)
			}
			tok = strings.TrimSpace(v)
		}
		if len(tok) < 16 {
			return nil, fmt.Errorf("gateway.auth.clients %s: the token has %d characters; at least 16", cc.Name, len(tok))
		}
		c := &Client{Name: cc.Name, sum: sha256.Sum256([]byte(tok)), Sessions: cc.Sessions, Prefix: cc.SessionPrefix,
			Profiles: cc.Profiles, Admin: cc.Admin}
		if c.Sessions == "" {
			c.Sessions = "own"
		}
		if len(c.Profiles) == 0 {
			c.Profiles = []string{cfg.Tools.Profile}
		}
		if other, dup := seen[c.sum]; dup {
			return nil, fmt.Errorf("gateway.auth.clients %s and %s have the same token", other, cc.Name)
		}
		seen[c.sum] = cc.Name
		out = append(out, c)
	}
	return out, nil
}

// authenticate finds the client whose token the request presents: every
// client's hash is compared, in constant time, so that the time tells
// neither the token nor which client's it is. presented reports whether
// the request gave a credential at all.
func (s *Server) authenticate(r *http.Request) (c *Client, presented bool) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(got) == "" {
		return nil, false
	}
	return s.identify(got), true
}

func (s *Server) identify(token string) *Client {
	sum := sha256.Sum256([]byte(token))
	var found *Client
	for _, c := range s.clients {
		if subtle.ConstantTimeCompare(sum[:], c.sum[:]) == 1 {
			found = c
		}
	}
	return found
}

// ClientOf is the client that presents the headers' bearer token, or nil
// (the MCP transport asks it for each tool call).
func (s *Server) ClientOf(h http.Header) *Client {
	got, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return nil
	}
	return s.identify(got)
}

type clientKey struct{}

func withClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// clientFrom is the client guard authenticated for the request.
func clientFrom(ctx context.Context) *Client {
	c, _ := ctx.Value(clientKey{}).(*Client)
	return c
}

// from fills in who sent req: the client guard authenticated and the
// peer's address. Nothing of the body decides either.
func (s *Server) from(req *Request, r *http.Request) *Request {
	req.Client = clientFrom(r.Context())
	req.Addr = clientAddr(r, s.proxies)
	return req
}

// clientOf is req's client; a request no transport authenticated is the
// operator's (stdio MCP, tests): the HTTP routes always set one.
func (s *Server) clientOf(req *Request) *Client {
	if req.Client != nil {
		return req.Client
	}
	return s.operator
}

// defaultSession is the session of a call that names none: each client
// has its own, so that two clients never meet in "default".
func (c *Client) defaultSession() string {
	switch {
	case c.Name == "":
		return "default"
	case c.Sessions == "prefix":
		return c.Prefix + "default"
	}
	return c.Name + ".default"
}

// newSession is the id of a session sessions_spawn creates.
func (c *Client) newSession(id string) string {
	if c.Sessions == "prefix" {
		return c.Prefix + id
	}
	return id
}

// checkSession refuses a session the client may not use: another's (own),
// outside its prefix (prefix). A session not yet created may be.
func (s *Server) checkSession(c *Client, id string) error {
	switch c.Sessions {
	case "any":
		return nil
	case "prefix":
		if strings.HasPrefix(id, c.Prefix) {
			return nil
		}
		return &httpError{http.StatusForbidden, "session_denied", fmt.Sprintf("client %q may use only sessions beginning with %q", c.Name, c.Prefix)}
	}
	sess, err := s.o.Store.Get(id)
	if errors.Is(err, ErrNoSession) {
		return nil
	}
	if err != nil {
		return &httpError{http.StatusServiceUnavailable, "shared_state_unavailable", "session store: " + err.Error() + " (the call was not run)"}
	}
	return ownSession(c, sess)
}

// ownSession refuses a session another client (or the operator) created.
func ownSession(c *Client, sess *Session) error {
	if c.Sessions != "own" || sess.Client == c.Name {
		return nil
	}
	return &httpError{http.StatusForbidden, "session_denied", fmt.Sprintf("session %q is not client %q's", sess.ID, c.Name)}
}

// checkProfile resolves the profile of a call: the one it names, if the
// client may use it, else the client's default.
func (s *Server) checkProfile(c *Client, name string) (string, error) {
	if name == "" {
		return c.Profiles[0], nil
	}
	if !slices.Contains(c.Profiles, name) {
		who := "this gateway's token"
		if c.Name != "" {
			who = fmt.Sprintf("client %q", c.Name)
		}
		return "", &httpError{http.StatusForbidden, "policy_denied", fmt.Sprintf("profile %q is not allowed for %s (allowed: %s)", name, who, strings.Join(c.Profiles, ", "))}
	}
	return name, nil
}

// ClientHeader names the client a request claims to be. It is optional;
// a request that sends it has a lockout of its own: failed tokens are
// counted, and an address locked, per named client, so that guesses at
// one client's token (or anonymous ones) do not lock out another client
// at the same address (all local clients share 127.0.0.1). The token must
// then be that client's. The operator's token is named "operator". A name
// that no client has counts with the anonymous ones: guessers cannot make
// up names for fresh counters.
const ClientHeader = "X-OpenClaw-Client"

// OperatorName is what ClientHeader says for the gateway's own token.
const OperatorName = "operator"

// lockoutKey is the key of a request's failure counter and lockout: the
// address, and the client it names if that client exists (then also
// returned, for the token to match).
func (s *Server) lockoutKey(r *http.Request, addr string) (string, *Client) {
	name := r.Header.Get(ClientHeader)
	if name == "" {
		return addr, nil
	}
	for _, c := range s.clients {
		if c.Name == name || (c == s.operator && name == OperatorName) {
			return addr + " client=" + name, c
		}
	}
	return addr, nil
}

// exempt reports whether addr is never locked out
// (gateway.auth.rateLimit.exemptLoopback and a loopback address).
func (s *Server) exempt(addr string) bool {
	if !s.cfg.Gateway.Auth.RateLimit.ExemptLoopback {
		return false
	}
	ip, err := netip.ParseAddr(addr)
	return err == nil && ip.Unmap().IsLoopback()
}
