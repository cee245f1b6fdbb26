package onvifsrv

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/argus-vms/argus/actors/media/onvif"
)

// maxRequestBytes bounds a SOAP request body.
const maxRequestBytes = 1 << 20

// Namespaces this package needs beyond the shared ones.
const (
	nsTopicSet  = "http://docs.oasis-open.org/wsn/t-1"
	nsWsrfRW    = "http://docs.oasis-open.org/wsrf/rw-2"
	nsWsntW     = "http://docs.oasis-open.org/wsn/bw-2"
	nsXMLSchema = "http://www.w3.org/2001/XMLSchema"
)

// envelopePrefixes are declared on every response envelope, so the
// responses' element names and the QNames inside text (fault codes, event
// topics, Type="xs:boolean") resolve.
var envelopePrefixes = [][2]string{
	{"env", onvif.NSSoap},
	{"ter", onvif.NSError},
	{"xs", nsXMLSchema},
	{"wsa", onvif.NSWsa},
	{"tt", onvif.NSSchema},
	{"tds", onvif.NSDevice},
	{"trt", onvif.NSMedia},
	{"tptz", onvif.NSPTZ},
	{"tev", onvif.NSEvents},
	{"wsnt", onvif.NSWsnt},
	{"wstop", nsTopicSet},
	{"wsrf-rw", nsWsrfRW},
	{"wsntw", nsWsntW},
	{"tns1", onvif.NSTopics},
}

// envelope renders body (a response or a Fault) as a SOAP 1.2 message.
func envelope(prefixes [][2]string, header []node, body node) []byte {
	env := el("env:Envelope")
	for _, p := range prefixes {
		env = env.attr("xmlns:"+p[0], p[1])
	}
	if len(header) > 0 {
		env = env.add(el("env:Header", header...))
	}
	env = env.add(el("env:Body", body))
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	env.write(&b)
	return []byte(b.String())
}

// operation is one SOAP action this camera implements.
type operation struct {
	// preAuth: ONVIF lets anyone call it (no UsernameToken checked).
	preAuth bool
	handle  func(*call) (node, error)
}

// services maps an operation's namespace to its operations by local name.
// Dispatch is by the body's first element alone: the path a request was
// posted to does not matter (except to name a subscription).
var services = map[string]map[string]operation{
	onvif.NSDevice: deviceOps,
	onvif.NSMedia:  mediaOps,
	onvif.NSPTZ:    ptzOps,
	onvif.NSEvents: eventOps,
	onvif.NSWsnt:   notificationOps,
}

// call is one SOAP request being answered.
type call struct {
	s      *Server
	run    *run
	ctx    context.Context // ends with the request or the server run
	op     *elem           // the body's first element
	header *elem           // nil when the envelope has none
	subID  string          // the subscription named by path or wsa:To
}

// serveSOAP answers one SOAP request posted to any service path; subID is
// the id in a /onvif/subscription/<id> path.
func (s *Server) serveSOAP(r *run, w http.ResponseWriter, req *http.Request, subID string) {
	doc, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxRequestBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeFault(w, http.StatusRequestEntityTooLarge, faultTooLarge)
			return
		}
		s.log.Debug("reading request", "remote", req.RemoteAddr, "err", err)
		return // the client is gone or broke the body: nobody to answer
	}
	// The request's context ends with the run too (http.Server.BaseContext).
	c := &call{s: s, run: r, ctx: req.Context(), subID: subID}
	action, resp, err := c.dispatch(doc)
	if err != nil {
		var f *onvif.Fault
		if !errors.As(err, &f) {
			s.log.Warn("onvif call failed", "action", action, "err", err)
			f = receiverFault("internal error: "+err.Error(), "ter:Action")
		}
		status := f.HTTPStatus()
		if f.HasSubcode("NotAuthorized") && s.o.Unauthorized401 {
			status = http.StatusUnauthorized
		}
		s.log.Debug("onvif fault", "action", action, "remote", req.RemoteAddr, "status", status, "fault", f.Error())
		s.writeFault(w, status, f)
		return
	}
	s.log.Debug("onvif call", "action", action, "remote", req.RemoteAddr)
	writeSOAP(w, http.StatusOK, envelope(envelopePrefixes, nil, resp))
}

// dispatch parses doc, checks authentication and runs the operation. It
// returns the operation's name (for logs) and its response or a fault.
func (c *call) dispatch(doc []byte) (string, node, error) {
	root, err := parseTree(doc)
	if err != nil {
		return "", node{}, faultWellFormed(err)
	}
	if root.Name.Local != "Envelope" {
		return "", node{}, faultInvalidArgs("not a SOAP envelope")
	}
	if root.Name.Space != onvif.NSSoap {
		return "", node{}, faultVersion
	}
	c.header = root.childNS(onvif.NSSoap, "Header")
	body := root.childNS(onvif.NSSoap, "Body")
	if body == nil || len(body.Kids) == 0 {
		return "", node{}, faultInvalidArgs("no operation in the SOAP body")
	}
	c.op = body.Kids[0]
	action := c.op.Name.Local
	op, known := services[c.op.Name.Space][action]
	if c.s.o.Username != "" && !(known && op.preAuth) {
		if err := c.s.auth.check(c.header); err != nil {
			c.s.log.Debug("onvif authentication refused", "action", action, "why", err.Error())
			return action, node{}, faultNotAuthorized
		}
	}
	if !known {
		return action, node{}, faultNotSupported
	}
	if c.op.Name.Space == onvif.NSPTZ && c.s.ptz == nil {
		return action, node{}, faultNoPTZ
	}
	if c.subID == "" {
		c.subID = subscriptionFromTo(c.header)
	}
	resp, err := op.handle(c)
	return action, resp, err
}

// subscriptionFromTo is the subscription id in a wsa:To header naming a
// subscription manager URL, for clients that post to another path.
func subscriptionFromTo(header *elem) string {
	to := header.childNS(onvif.NSWsa, "To").text()
	if to == "" {
		return ""
	}
	u, err := url.Parse(to)
	if err != nil {
		return ""
	}
	id, ok := strings.CutPrefix(u.Path, subscriptionPath)
	if !ok || strings.Contains(id, "/") {
		return ""
	}
	return id
}

func (s *Server) writeFault(w http.ResponseWriter, status int, f *onvif.Fault) {
	writeSOAP(w, status, envelope(envelopePrefixes, nil, faultNode(f)))
}

func writeSOAP(w http.ResponseWriter, status int, doc []byte) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(doc)
}

// profileArg is the channel named by the operation's ProfileToken.
func (c *call) profileArg() (*channel, error) {
	tok := c.op.child("ProfileToken").text()
	ch := c.s.byToken[tok]
	if ch == nil {
		return nil, faultNoProfile(tok)
	}
	return ch, nil
}

// boolArg reads an optional xs:boolean child, def when absent.
func boolArg(e *elem, local string, def bool) (bool, error) {
	k := e.child(local)
	if k == nil {
		return def, nil
	}
	switch strings.TrimSpace(k.text()) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, faultInvalidArgs(local + " " + quoteToken(k.text()) + " is not an xs:boolean")
}
