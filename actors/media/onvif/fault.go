package onvif

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Fault codes of SOAP 1.2, as QNames under the prefix MarshalEnvelope declares.
const (
	FaultSender   = "env:Sender"
	FaultReceiver = "env:Receiver"
)

// Fault is a SOAP fault: Code is the env:Code/env:Value QName as sent
// (e.g. "env:Sender"), Subcodes the nested env:Subcode/env:Value QNames,
// outermost first (e.g. "ter:InvalidArgVal", "ter:NoProfile"), Reason the
// first env:Reason/env:Text. It is the error a call returns when the camera
// answers with a fault.
type Fault struct {
	Code     string
	Subcodes []string
	Reason   string
}

// maxSubcodes bounds the nesting a fault may declare.
const maxSubcodes = 8

// NewFault returns a fault with the given code, reason and subcodes.
func NewFault(code, reason string, subcodes ...string) *Fault {
	return &Fault{Code: code, Subcodes: subcodes, Reason: reason}
}

// Error names the camera's fault: its codes and reason.
func (f *Fault) Error() string {
	codes := append([]string{f.Code}, f.Subcodes...)
	reason := f.Reason
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Sprintf("onvif: camera fault %s: %s", strings.Join(codes, "/"), reason)
}

// Is lets errors.Is match a fault by its codes: a target Fault matches when
// its Code and Subcodes (compared by local name, ignoring prefixes) are a
// prefix of this fault's, so &Fault{Subcodes: []string{"ter:NotAuthorized"}}
// with an empty Code matches any NotAuthorized fault.
//
// A NotAuthorized fault also matches ErrUnauthorized.
func (f *Fault) Is(target error) bool {
	if target == ErrUnauthorized {
		return f.HasSubcode("NotAuthorized")
	}
	t, ok := target.(*Fault)
	if !ok {
		return false
	}
	if t.Code != "" && localName(t.Code) != localName(f.Code) {
		return false
	}
	if len(t.Subcodes) > len(f.Subcodes) {
		return false
	}
	for i, s := range t.Subcodes {
		if localName(s) != localName(f.Subcodes[i]) {
			return false
		}
	}
	return t.Code != "" || len(t.Subcodes) > 0
}

// HasSubcode reports whether any subcode has the local name local
// ("NotAuthorized" matches "ter:NotAuthorized").
func (f *Fault) HasSubcode(local string) bool {
	for _, s := range f.Subcodes {
		if localName(s) == local {
			return true
		}
	}
	return false
}

// HTTPStatus is the status SOAP 1.2's HTTP binding gives the fault: 400
// for a sender's fault, 500 otherwise.
func (f *Fault) HTTPStatus() int {
	if localName(f.Code) == "Sender" {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// localName strips a QName's prefix.
func localName(qname string) string {
	qname = strings.TrimSpace(qname)
	if i := strings.LastIndexByte(qname, ':'); i >= 0 {
		return qname[i+1:]
	}
	return qname
}

// MarshalXML writes the fault in SOAP 1.2's shape.
func (f *Fault) MarshalXML(enc *xml.Encoder, start xml.StartElement) error {
	name := func(local string) xml.StartElement {
		return xml.StartElement{Name: xml.Name{Space: NSSoap, Local: local}}
	}
	fault, code, reason := name("Fault"), name("Code"), name("Reason")
	text := name("Text")
	text.Attr = []xml.Attr{{Name: xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "lang"}, Value: "en"}}
	tokens := []func() error{
		func() error { return enc.EncodeToken(fault) },
		func() error { return enc.EncodeToken(code) },
		func() error { return enc.EncodeElement(f.Code, name("Value")) },
	}
	for _, s := range f.Subcodes {
		tokens = append(tokens,
			func() error { return enc.EncodeToken(name("Subcode")) },
			func() error { return enc.EncodeElement(s, name("Value")) })
	}
	for range f.Subcodes {
		tokens = append(tokens, func() error { return enc.EncodeToken(name("Subcode").End()) })
	}
	tokens = append(tokens,
		func() error { return enc.EncodeToken(code.End()) },
		func() error { return enc.EncodeToken(reason) },
		func() error { return enc.EncodeElement(f.Reason, text) },
		func() error { return enc.EncodeToken(reason.End()) },
		func() error { return enc.EncodeToken(fault.End()) })
	for _, t := range tokens {
		if err := t(); err != nil {
			return err
		}
	}
	return nil
}

// UnmarshalXML reads a SOAP 1.2 fault, or a SOAP 1.1 one
// (faultcode/faultstring), whatever the prefixes.
func (f *Fault) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var w faultWire
	if err := d.DecodeElement(&w, &start); err != nil {
		return err
	}
	*f = Fault{Code: strings.TrimSpace(w.Code.Value)}
	for s := w.Code.Subcode; s != nil && len(f.Subcodes) < maxSubcodes; s = s.Subcode {
		f.Subcodes = append(f.Subcodes, strings.TrimSpace(s.Value))
	}
	if len(w.Reason.Text) > 0 {
		f.Reason = strings.TrimSpace(w.Reason.Text[0])
	}
	if f.Code == "" {
		f.Code = strings.TrimSpace(w.FaultCode)
	}
	if f.Reason == "" {
		f.Reason = strings.TrimSpace(w.FaultString)
	}
	return nil
}

type faultWire struct {
	Code struct {
		Value   string       `xml:"Value"`
		Subcode *subcodeWire `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text []string `xml:"Text"`
	} `xml:"Reason"`
	FaultCode   string `xml:"faultcode"`
	FaultString string `xml:"faultstring"`
}

type subcodeWire struct {
	Value   string       `xml:"Value"`
	Subcode *subcodeWire `xml:"Subcode"`
}
