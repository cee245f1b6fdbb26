package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// ProblemContentType is the media type of every error answer (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem document. It is also an error, so handlers
// return it and the central error handler writes it.
type Problem struct {
	Type   string // "about:blank" unless a more specific type exists
	Title  string // the status text
	Status int
	Detail string
	// Field names the offending part of the request: a JSON member ("url",
	// "labels.site"), a query parameter ("limit"), a header ("If-Match") or
	// "body" for the request body as a whole.
	Field string
	// RetryAfter, when > 0, is sent as the Retry-After header (seconds).
	RetryAfter int
	// Extensions are extra members of the document (e.g. "clickhouse").
	Extensions map[string]any
}

// problem builds a problem with the standard title of status.
func problem(status int, field, format string, args ...any) *Problem {
	detail := format
	if len(args) > 0 {
		detail = fmt.Sprintf(format, args...)
	}
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Field: field}
}

func badRequest(field, format string, args ...any) *Problem {
	return problem(http.StatusBadRequest, field, format, args...)
}

func unavailable(format string, args ...any) *Problem {
	p := problem(http.StatusServiceUnavailable, "", format, args...)
	p.RetryAfter = 1
	return p
}

func (p *Problem) Error() string {
	if p.Field != "" {
		return fmt.Sprintf("%d %s: %s (field %s)", p.Status, p.Title, p.Detail, p.Field)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
}

// MarshalJSON writes the standard members first (type, title, status,
// detail, field), then the extensions in key order; an extension never
// overrides a standard member.
func (p *Problem) MarshalJSON() ([]byte, error) {
	typ := p.Type
	if typ == "" {
		typ = "about:blank"
	}
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	type member struct {
		k string
		v any
	}
	ms := []member{{"type", typ}, {"title", title}, {"status", p.Status}, {"detail", p.Detail}}
	if p.Field != "" {
		ms = append(ms, member{"field", p.Field})
	}
	for _, k := range sortedKeys(p.Extensions) {
		switch k {
		case "type", "title", "status", "detail", "field":
			continue
		}
		ms = append(ms, member{k, p.Extensions[k]})
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := marshalJSON(m.k)
		if err != nil {
			return nil, err
		}
		v, err := marshalJSON(m.v)
		if err != nil {
			return nil, err
		}
		buf.Write(bytes.TrimSpace(k))
		buf.WriteByte(':')
		buf.Write(bytes.TrimSpace(v))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalJSON encodes v without HTML escaping (URLs keep their '&').
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeJSON answers status with v as JSON.
func writeJSON(c echo.Context, status int, v any) error {
	return writeBody(c, status, echo.MIMEApplicationJSON, v)
}

func writeBody(c echo.Context, status int, contentType string, v any) error {
	b, err := marshalJSON(v)
	if err != nil {
		return err
	}
	if c.Request().Method == http.MethodHead {
		c.Response().Header().Set(echo.HeaderContentType, contentType)
		return c.NoContent(status)
	}
	return c.Blob(status, contentType, b)
}

// writeProblem answers with p.
func writeProblem(c echo.Context, p *Problem) error {
	h := c.Response().Header()
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized && h.Get(echo.HeaderWWWAuthenticate) == "" {
		h.Set(echo.HeaderWWWAuthenticate, `Bearer realm="argus"`)
	}
	return writeBody(c, p.Status, ProblemContentType, p)
}

// toProblem maps any error a handler or middleware returned to a problem.
// The second result is false when the error is unexpected (a 500 to log).
func toProblem(err error) (*Problem, bool) {
	var p *Problem
	if errors.As(err, &p) {
		return p, true
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if inner, ok := he.Internal.(*echo.HTTPError); ok {
			he = inner
		}
		return httpErrorProblem(he), true
	}
	return problem(http.StatusInternalServerError, "", "internal error"), false
}

// httpErrorProblem turns echo's own errors (404 route, 405, 413, binder
// errors) into problems.
func httpErrorProblem(he *echo.HTTPError) *Problem {
	code := he.Code
	if code < 400 || code > 599 {
		code = http.StatusInternalServerError
	}
	switch code {
	case http.StatusNotFound:
		return problem(code, "", "no such resource")
	case http.StatusMethodNotAllowed:
		return problem(code, "", "method not allowed on this resource")
	case http.StatusRequestEntityTooLarge:
		return problem(code, "body", "request body exceeds %s", bodyLimitText)
	}
	detail := http.StatusText(code)
	switch m := he.Message.(type) {
	case string:
		detail = m
	case error:
		detail = m.Error()
	}
	if code >= 500 {
		detail = "internal error"
	}
	return problem(code, "", "%s", detail)
}

// errorHandler is echo's central error handler: every 4xx/5xx, including
// echo's own and recovered panics, leaves as application/problem+json.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, known := toProblem(err)
	if !known {
		s.log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method,
			"route", routeOf(c), "err", err)
	}
	if werr := writeProblem(c, p); werr != nil {
		s.log.Debug("write problem", "request_id", requestID(c), "err", werr)
	}
}

// maxBody is the request body limit.
const (
	maxBody       = 1 << 20
	bodyLimitText = "1 MiB"
	bodyLimitSpec = "1M"
)

// readBody reads the whole (limited) request body.
func readBody(c echo.Context) ([]byte, error) {
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" && !isJSONType(ct) {
		return nil, problem(http.StatusUnsupportedMediaType, "Content-Type", "content type %q is not JSON", ct)
	}
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, httpErrorProblem(he)
		}
		return nil, badRequest("body", "cannot read request body")
	}
	if len(b) > maxBody {
		return nil, problem(http.StatusRequestEntityTooLarge, "body", "request body exceeds %s", bodyLimitText)
	}
	return b, nil
}

// isJSONType accepts application/json, application/merge-patch+json and
// any other */json or *+json media type.
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json")
}

// decodeStrict decodes one JSON value from b into v, rejecting unknown
// members, trailing data and type mismatches with a problem naming the
// field.
func decodeStrict(b []byte, v any) *Problem {
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("body", "request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("body", "unexpected data after the JSON value")
	}
	// encoding/json matches member names up to case ("NAME" fills name, the
	// last of "name"/"Name" wins): members must be spelled exactly.
	return exactMembers(json.RawMessage(bytes.TrimSpace(b)), reflect.TypeOf(v), "")
}

// exactMembers checks that every object member in raw names a field of t
// by its exact JSON name, through nested structs, slices and maps.
func exactMembers(raw json.RawMessage, t reflect.Type, path string) *Problem {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil || members == nil {
			return nil // null, or not an object: Decode judged it already
		}
		for name, v := range members {
			f, ok := fieldByJSONName(t, name)
			if !ok {
				return unknownMember(path + name)
			}
			if p := exactMembers(v, f.Type, path+name+"."); p != nil {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for i, it := range items {
				if p := exactMembers(it, t.Elem(), path+strconv.Itoa(i)+"."); p != nil {
					return p
				}
			}
		}
	case reflect.Map:
		var entries map[string]json.RawMessage
		if json.Unmarshal(raw, &entries) == nil {
			for k, it := range entries {
				if p := exactMembers(it, t.Elem(), path+k+"."); p != nil {
					return p
				}
			}
		}
	}
	return nil
}

// fieldByJSONName is t's field whose JSON name is exactly name.
func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// unknownMember is the problem of a member no field has; a name that is
// empty, long or not printable is not echoed.
func unknownMember(name string) *Problem {
	if name == "" || len(name) > 128 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) || strings.HasSuffix(name, ".") {
		return badRequest("body", "a member has an empty or unprintable name")
	}
	return badRequest(name, "unknown field %q", name)
}

// jsonProblem maps an encoding/json error to a 400 problem.
func jsonProblem(err error) *Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("body", "malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("body", "must be a JSON %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return badRequest(typ.Field, "must be a %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("body", "truncated JSON")
	}
	// encoding/json reports unknown members only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if f, uerr := strconv.Unquote(name); uerr == nil {
			name = f
		}
		return unknownMember(name)
	}
	return badRequest("body", "invalid JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "slice", "array":
		return "array"
	case "ptr", "pointer":
		return "value"
	}
	return goKind
}
