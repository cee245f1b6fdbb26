package onvif

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cannedCamera answers SOAP requests with canned answers, by the local
// name of the request's body element, the way cameras shape them. It
// checks every UsernameToken it is sent.
type cannedCamera struct {
	t          *testing.T
	user, pass string
	srv        *httptest.Server
	// intercept, when set, may answer a request itself (true) first.
	intercept func(w http.ResponseWriter, r *http.Request, env *Envelope) bool

	mu      sync.Mutex
	answers map[string]string // operation → document ({{HOST}} replaced)
	calls   []cannedCall
}

type cannedCall struct {
	op          string
	path        string
	contentType string
	env         *Envelope
	doc         string
	created     time.Time // the UsernameToken's, zero without one
}

func newCannedCamera(t *testing.T, user, pass string) *cannedCamera {
	t.Helper()
	c := &cannedCamera{t: t, user: user, pass: pass, answers: map[string]string{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cannedCamera) host() string      { return strings.TrimPrefix(c.srv.URL, "http://") }
func (c *cannedCamera) deviceURL() string { return c.srv.URL + "/onvif/device_service" }

// answer sets the document for op, from testdata when it ends in .xml.
func (c *cannedCamera) answer(op, doc string) {
	c.t.Helper()
	if strings.HasSuffix(doc, ".xml") {
		b, err := os.ReadFile("testdata/" + doc)
		if err != nil {
			c.t.Fatal(err)
		}
		doc = string(b)
	}
	c.mu.Lock()
	c.answers[op] = doc
	c.mu.Unlock()
}

// empty answers op with an empty <prefix:opResponse/>.
func (c *cannedCamera) empty(prefixedOp string) {
	b, err := os.ReadFile("testdata/empty_response.xml")
	if err != nil {
		c.t.Fatal(err)
	}
	_, op, _ := strings.Cut(prefixedOp, ":")
	c.answer(op, strings.ReplaceAll(string(b), "{{OP}}", prefixedOp))
}

func (c *cannedCamera) seen() []cannedCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cannedCall(nil), c.calls...)
}

func (c *cannedCamera) lastCall(op string) cannedCall {
	c.t.Helper()
	calls := c.seen()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].op == op {
			return calls[i]
		}
	}
	c.t.Fatalf("no %s call among %d", op, len(calls))
	return cannedCall{}
}

func (c *cannedCamera) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	env, err := ParseEnvelope(body)
	if err != nil {
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	call := cannedCall{op: env.BodyName.Local, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), env: env, doc: string(body)}
	if s := env.Header.Security; s != nil && s.UsernameToken != nil {
		call.created, _ = s.UsernameToken.CreatedTime()
	}
	c.mu.Lock()
	c.calls = append(c.calls, call)
	doc, ok := c.answers[call.op]
	c.mu.Unlock()

	if c.intercept != nil && c.intercept(w, r, env) {
		return
	}
	if c.user != "" && call.op != "GetSystemDateAndTime" && !c.authorized(env) {
		c.reply(w, http.StatusBadRequest, "fault_not_authorized.xml")
		return
	}
	if !ok {
		c.reply(w, http.StatusInternalServerError, "fault_action_not_supported.xml")
		return
	}
	c.write(w, http.StatusOK, doc)
}

// authorized recomputes the token's digest from its nonce and created.
func (c *cannedCamera) authorized(env *Envelope) bool {
	s := env.Header.Security
	if s == nil || s.UsernameToken == nil {
		return false
	}
	tok := s.UsernameToken
	nonce, err := base64.StdEncoding.DecodeString(tok.Nonce)
	if err != nil || len(nonce) != 16 {
		c.t.Errorf("nonce %q: %d bytes, %v", tok.Nonce, len(nonce), err)
		return false
	}
	if tok.Password.Type != PasswordDigestType {
		c.t.Errorf("password type %q", tok.Password.Type)
	}
	if !strings.HasSuffix(tok.Created, "Z") {
		c.t.Errorf("created %q is not UTC with Z", tok.Created)
	}
	return tok.Username == c.user && tok.Password.Value == PasswordDigest(nonce, tok.Created, c.pass)
}

func (c *cannedCamera) reply(w http.ResponseWriter, status int, file string) {
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		c.t.Error(err)
	}
	c.write(w, status, string(b))
}

func (c *cannedCamera) write(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, strings.ReplaceAll(doc, "{{HOST}}", c.host()))
}

// systemDateAndTime is a GetSystemDateAndTimeResponse telling t.
func systemDateAndTime(t time.Time) string {
	t = t.UTC()
	return `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<SOAP-ENV:Body><tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>
<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>
<tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone>
<tt:UTCDateTime><tt:Time><tt:Hour>` + itoa(t.Hour()) + `</tt:Hour><tt:Minute>` + itoa(t.Minute()) + `</tt:Minute><tt:Second>` + itoa(t.Second()) + `</tt:Second></tt:Time>
<tt:Date><tt:Year>` + itoa(t.Year()) + `</tt:Year><tt:Month>` + itoa(int(t.Month())) + `</tt:Month><tt:Day>` + itoa(t.Day()) + `</tt:Day></tt:Date></tt:UTCDateTime>
</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

func itoa(i int) string { return strconv.Itoa(i) }
