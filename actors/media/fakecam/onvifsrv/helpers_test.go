package onvifsrv

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Tests speak SOAP with net/http and hand-written XML: no ONVIF client.

const (
	testUser = "admin"
	testPass = "s3cret!"
)

// start runs a server for the test with one profile (unless o has some)
// and closes it at the end.
func start(t testing.TB, o Options) *Server {
	t.Helper()
	if len(o.Profiles) == 0 {
		o.Profiles = []Profile{{Token: "main", StreamURI: "rtsp://127.0.0.1:8554/cam1", Width: 320, Height: 180}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// digestHeader is a WS-Security UsernameToken with a PasswordDigest,
// computed here independently of the package's code.
func digestHeader(user, pass string, created time.Time) string {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	c := created.UTC().Format("2006-01-02T15:04:05.000Z")
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(c))
	h.Write([]byte(pass))
	return digestHeaderWith(user, base64.StdEncoding.EncodeToString(h.Sum(nil)), base64.StdEncoding.EncodeToString(nonce), c)
}

func digestHeaderWith(user, digest, nonce, created string) string {
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
		`<wsse:UsernameToken><wsse:Username>` + user + `</wsse:Username>` +
		`<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">` + digest + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">` + nonce + `</wsse:Nonce>` +
		`<wsu:Created>` + created + `</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

func textHeader(user, pass string) string {
	return `<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken>` +
		`<Username>` + user + `</Username>` +
		`<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">` + pass + `</Password>` +
		`</UsernameToken></Security>`
}

// soapDoc wraps a header and a body in a SOAP 1.2 envelope declaring the
// usual ONVIF prefixes.
func soapDoc(header, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` +
		`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"` +
		` xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"` +
		` xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:tev="http://www.onvif.org/ver10/events/wsdl"` +
		` xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"` +
		` xmlns:wsa="http://www.w3.org/2005/08/addressing">` +
		`<s:Header>` + header + `</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

// response is a parsed answer.
type response struct {
	status int
	raw    string
	body   *elem // the first element of the SOAP body
}

// fault is the fault's codes, "Code/Subcode/…" by local name; "" when the
// answer is no fault.
func (r response) fault() string {
	if r.body == nil || r.body.Name.Local != "Fault" {
		return ""
	}
	codes := []string{}
	for c := r.body.child("Code"); c != nil; c = c.child("Subcode") {
		v := c.child("Value").text()
		if i := strings.LastIndexByte(v, ':'); i >= 0 {
			v = v[i+1:]
		}
		codes = append(codes, v)
	}
	return strings.Join(codes, "/")
}

// post sends doc to url and parses the answer.
func post(t testing.TB, url, doc string) response {
	t.Helper()
	resp, err := http.Post(url, "application/soap+xml; charset=utf-8", strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); len(raw) > 0 && !strings.HasPrefix(ct, "application/soap+xml") {
		t.Fatalf("Content-Type %q", ct)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return r
	}
	root, err := parseTree(raw)
	if err != nil {
		t.Fatalf("answer is not XML (%v): %s", err, raw)
	}
	if root.Name.Local != "Envelope" || root.Name.Space != "http://www.w3.org/2003/05/soap-envelope" {
		t.Fatalf("answer is no SOAP 1.2 envelope: %s", raw)
	}
	if b := root.child("Body"); b != nil && len(b.Kids) > 0 {
		r.body = b.Kids[0]
	}
	return r
}

// call posts an operation with the given security header to the device
// service and fails the test on a fault.
func mustCall(t testing.TB, s *Server, header, body string) *elem {
	t.Helper()
	r := post(t, s.DeviceURL(), soapDoc(header, body))
	if r.status != 200 || r.fault() != "" {
		t.Fatalf("%s: status %d fault %q\n%s", firstTag(body), r.status, r.fault(), r.raw)
	}
	return r.body
}

// auth is a fresh valid digest header for s.
func auth(s *Server) string {
	if s.o.Username == "" {
		return ""
	}
	return digestHeader(s.o.Username, s.o.Password, time.Now().Add(s.o.ClockOffset))
}

func firstTag(body string) string {
	body = strings.TrimPrefix(body, "<")
	if i := strings.IndexAny(body, " />"); i >= 0 {
		return body[:i]
	}
	return body
}

// path follows children by local name.
func path(e *elem, locals ...string) *elem {
	for _, l := range locals {
		e = e.child(l)
	}
	return e
}

func attrOf(t testing.TB, e *elem, name string) string {
	t.Helper()
	v, ok := e.attr(name)
	if !ok {
		t.Fatalf("%v has no attribute %s", e, name)
	}
	return v
}

func expectFault(t testing.TB, r response, status int, codes string) {
	t.Helper()
	if r.status != status || r.fault() != codes {
		t.Fatalf("got status %d fault %q, want %d %q\n%s", r.status, r.fault(), status, codes, r.raw)
	}
}

// httpPost posts doc and drains the answer.
func httpPost(url, doc string) (*http.Response, error) {
	resp, err := http.Post(url, "application/soap+xml", strings.NewReader(doc))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return resp, err
}

type errString string

func (e errString) Error() string { return string(e) }

// restart reboots s. The test's HTTP client then drops its pooled
// connections: the camera cut them, and a POST on a connection the client
// has not yet seen closed fails with EOF (net/http does not retry POSTs) —
// what a client of a rebooting camera sees once.
func restart(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	http.DefaultClient.CloseIdleConnections()
}
