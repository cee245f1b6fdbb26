package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Principal is who a request acts as.
type Principal struct {
	KeyID string // "admin" for the configured admin key
	Name  string
	Role  Role
}

const principalKey = "argus.principal"

// principalOf returns the authenticated caller, if any.
func principalOf(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// bearer extracts the token of an "Authorization: Bearer <key>" header.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// AdminKeyID is the key id of the configured admin key (ARGUS_ADMIN_KEY).
const AdminKeyID = "admin"

// authenticate resolves a presented key: the admin key (constant-time
// comparison of SHA-256 digests, so neither length nor content leaks) or a
// managed key from the KeyStore.
func (s *Server) authenticate(key string) (Principal, bool) {
	if s.adminHash != nil {
		h := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(h[:], s.adminHash) == 1 {
			return Principal{KeyID: AdminKeyID, Name: "admin", Role: RoleAdmin}, true
		}
	}
	if s.keys != nil {
		if k, ok := s.keys.Lookup(key); ok {
			return Principal{KeyID: k.ID, Name: k.Name, Role: k.Role}, true
		}
	}
	return Principal{}, false
}

// require is route middleware: the caller must present a key whose role is
// at least need. Missing/unknown key → 401, weaker role → 403.
func (s *Server) require(need Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			tok, ok := bearer(c.Request().Header.Get(echo.HeaderAuthorization))
			if !ok {
				return problem(http.StatusUnauthorized, "Authorization", "an API key is required: Authorization: Bearer <key>")
			}
			p, ok := s.authenticate(tok)
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="argus", error="invalid_token"`)
				return problem(http.StatusUnauthorized, "Authorization", "unknown API key")
			}
			c.Set(principalKey, p)
			if !p.Role.Allows(need) {
				return problem(http.StatusForbidden, "", "role %s may not do this; it needs %s", p.Role, need)
			}
			return next(c)
		}
	}
}

// keyView is a managed key as the API shows it; Key only on creation.
type keyView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	Key       string `json:"key,omitempty"`
	CreatedAt string `json:"created_at"`
}

func toKeyView(k KeyInfo) keyView {
	return keyView{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: formatTime(k.CreatedAt)}
}

type createKeyRequest struct {
	Name *string `json:"name"`
	Role *string `json:"role"`
}

const maxKeyName = 200

// POST /v1/keys {"name","role"} → 201 with the key, shown only here.
func (s *Server) createKey(c echo.Context) error {
	if s.keys == nil {
		return unavailable("API key store is not configured")
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req createKeyRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return badRequest("name", "name is required")
	}
	if utf8.RuneCountInString(*req.Name) > maxKeyName {
		return badRequest("name", "name must be at most %d characters", maxKeyName)
	}
	if req.Role == nil {
		return badRequest("role", "role is required: viewer, operator or admin")
	}
	role, ok := ParseRole(*req.Role)
	if !ok {
		return badRequest("role", "role must be viewer, operator or admin")
	}
	ctx, cancel := contextWithTimeout(c, 5*time.Second)
	defer cancel()
	info, key, err := s.keys.Create(ctx, *req.Name, role)
	if err != nil {
		s.log.Warn("create api key", "request_id", requestID(c), "err", err)
		return unavailable("the key store did not answer")
	}
	s.log.Info("api key created", "request_id", requestID(c), "key_id", info.ID, "role", info.Role, "by", callerID(c))
	v := toKeyView(info)
	v.Key = key
	c.Response().Header().Set(echo.HeaderLocation, "/v1/keys/"+info.ID)
	return writeJSON(c, http.StatusCreated, v)
}

// GET /v1/keys → items without the keys.
func (s *Server) listKeys(c echo.Context) error {
	items := []keyView{}
	if s.keys != nil {
		for _, k := range s.keys.List() {
			items = append(items, toKeyView(k))
		}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

// keyRecheck is how often a long-lived answer (an event stream) checks that
// its caller's key still exists.
var keyRecheck = time.Second

// keyLive says whether p's key still authenticates: the configured admin
// key always, a managed key until it is deleted (on any node).
func (s *Server) keyLive(p Principal) bool {
	if p.KeyID == AdminKeyID {
		return s.adminHash != nil
	}
	return s.keys != nil && s.keys.Has(p.KeyID)
}

// GET /v1/whoami: the caller's key id, name and role, so a client (the
// console) shows only what the role may do. The server still checks every
// request itself.
func (s *Server) whoami(c echo.Context) error {
	p, _ := principalOf(c)
	return writeJSON(c, http.StatusOK, map[string]any{"key_id": p.KeyID, "name": p.Name, "role": p.Role})
}

// DELETE /v1/keys/{id} → 204; the key stops working on every node.
func (s *Server) deleteKey(c echo.Context) error {
	if s.keys == nil {
		return unavailable("API key store is not configured")
	}
	id := c.Param("id")
	ctx, cancel := contextWithTimeout(c, 5*time.Second)
	defer cancel()
	err := s.keys.Delete(ctx, id)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return problem(http.StatusNotFound, "id", "no API key with this id")
	case err != nil:
		s.log.Warn("delete api key", "request_id", requestID(c), "err", err)
		return unavailable("the key store did not answer")
	}
	s.log.Info("api key deleted", "request_id", requestID(c), "key_id", id, "by", callerID(c))
	return c.NoContent(http.StatusNoContent)
}

func callerID(c echo.Context) string {
	if p, ok := principalOf(c); ok {
		return p.KeyID
	}
	return ""
}
