package onvif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// NSSoap11 is the SOAP 1.1 envelope namespace: some old cameras still answer
// in it, so the parser accepts it beside SOAP 1.2's NSSoap.
const NSSoap11 = "http://schemas.xmlsoap.org/soap/envelope/"

// NSError holds ONVIF's fault subcodes (ter:NotAuthorized, ter:InvalidArgVal…).
const NSError = "http://www.onvif.org/ver10/error"

// The prefixes MarshalEnvelope declares on the envelope, so that QName values
// inside text (fault codes, event topics, discovery types) resolve.
var envelopePrefixes = [][2]string{
	{"env", NSSoap},
	{"ter", NSError},
	{"wsse", NSWsse},
	{"wsu", NSWsu},
	{"wsa", NSWsa},
	{"tds", NSDevice},
	{"trt", NSMedia},
	{"tptz", NSPTZ},
	{"tev", NSEvents},
	{"tt", NSSchema},
	{"wsnt", NSWsnt},
	{"tns1", NSTopics},
	{"dn", NSNetwork},
	{"d", NSDiscover},
}

// Envelope is a SOAP message read from the wire: its header, the name of
// the first element in its body (the operation, its response or a Fault)
// and the document, from which the body is decoded on demand.
type Envelope struct {
	Header   Header
	BodyName xml.Name
	doc      []byte
}

// Header holds the SOAP header blocks ONVIF uses. Action, MessageID, To and
// RelatesTo are WS-Addressing; Addressing is their namespace when marshaled
// ("" means NSWsa; WS-Discovery uses NSWsaDisc). Extra is more header
// blocks written after them (a subscription's reference parameters): well-
// formed XML declaring its own namespaces, rewritten with the envelope's
// prefixes like the rest; it is not filled when parsing.
type Header struct {
	Security   *Security
	Action     string
	MessageID  string
	To         string
	RelatesTo  string
	Addressing string
	Extra      []byte
}

// Security is the wsse:Security header block.
type Security struct {
	UsernameToken *UsernameToken `xml:"UsernameToken"`
}

// UsernameToken is WS-Security's username token; Nonce is Base64 as sent.
type UsernameToken struct {
	Username string        `xml:"Username"`
	Password TokenPassword `xml:"Password"`
	Nonce    string        `xml:"Nonce"`
	Created  string        `xml:"Created"`
}

// TokenPassword is the password element: its Type attribute says whether
// Value is the digest (PasswordDigestType) or the password itself.
type TokenPassword struct {
	Type  string `xml:"Type,attr"`
	Value string `xml:",chardata"`
}

// ErrTooLarge is returned when a message is longer than the bound it is
// read with.
var ErrTooLarge = errors.New("onvif: message too large")

// ReadEnvelope reads at most max bytes from r, refusing a longer message
// with ErrTooLarge, and parses it.
func ReadEnvelope(r io.Reader, max int64) (*Envelope, error) {
	doc, err := readBounded(r, max)
	if err != nil {
		return nil, err
	}
	return ParseEnvelope(doc)
}

// readBounded reads all of r when it is at most max bytes long.
func readBounded(r io.Reader, max int64) ([]byte, error) {
	doc, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(doc)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return doc, nil
}

// ParseEnvelope parses a SOAP 1.2 (or 1.1) envelope. A document that is not
// one is ErrNotONVIF. The body is not decoded: see DecodeBody and Fault.
func ParseEnvelope(doc []byte) (*Envelope, error) {
	d := newDecoder(doc)
	root, err := firstStart(d)
	if err != nil || root.Name.Local != "Envelope" || !isSoapNS(root.Name.Space) {
		return nil, notONVIF(doc, err)
	}
	e := &Envelope{doc: doc}
	for {
		start, err := nextChild(d)
		if err != nil {
			return nil, notONVIF(doc, err)
		}
		if start == nil {
			return nil, notONVIF(doc, errors.New("no Body"))
		}
		switch start.Name.Local {
		case "Header":
			var h headerWire
			if err := d.DecodeElement(&h, start); err != nil {
				return nil, notONVIF(doc, err)
			}
			e.Header = h.header()
		case "Body":
			first, err := nextChild(d)
			if err != nil {
				return nil, notONVIF(doc, err)
			}
			if first != nil {
				e.BodyName = first.Name
			}
			return e, nil
		default:
			if err := d.Skip(); err != nil {
				return nil, notONVIF(doc, err)
			}
		}
	}
}

// IsFault reports whether the body is a SOAP fault.
func (e *Envelope) IsFault() bool {
	return e.BodyName.Local == "Fault" && isSoapNS(e.BodyName.Space)
}

// Fault returns the body's fault, or nil when the body is not one.
func (e *Envelope) Fault() *Fault {
	if !e.IsFault() {
		return nil
	}
	f := &Fault{}
	if err := e.DecodeBody(f); err != nil {
		var decoded *Fault
		if errors.As(err, &decoded) {
			return decoded
		}
		return &Fault{Code: "env:Receiver", Reason: "unreadable fault: " + err.Error()}
	}
	return f
}

// DecodeBody decodes the first element of the body into v. A fault in the
// body is returned as a *Fault error; an empty body leaves v unchanged.
func (e *Envelope) DecodeBody(v any) error {
	if _, isFault := v.(*Fault); e.IsFault() && !isFault {
		return e.Fault()
	}
	d := newDecoder(e.doc)
	if _, err := firstStart(d); err != nil {
		return notONVIF(e.doc, err)
	}
	for {
		start, err := nextChild(d)
		if err != nil {
			return notONVIF(e.doc, err)
		}
		if start == nil {
			return notONVIF(e.doc, errors.New("no Body"))
		}
		if start.Name.Local != "Body" {
			if err := d.Skip(); err != nil {
				return notONVIF(e.doc, err)
			}
			continue
		}
		first, err := nextChild(d)
		if err != nil {
			return notONVIF(e.doc, err)
		}
		if first == nil {
			return nil
		}
		if err := d.DecodeElement(v, first); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrNotONVIF, first.Name.Local, err)
		}
		return nil
	}
}

// MarshalEnvelope writes a SOAP 1.2 envelope around body (a value
// encoding/xml marshals, a *Fault, or nil for an empty body). The envelope
// declares the usual ONVIF prefixes (env, ter, tt, tds, trt, tptz, tev,
// wsnt, wsa, tns1, dn, d), which QName text such as fault codes may use,
// and writes every element with them; wsa is bound to h.Addressing.
func MarshalEnvelope(h *Header, body any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	var addressing string
	if h != nil {
		addressing = h.Addressing
	}
	prefixes := prefixesFor(addressing)
	b.WriteString("<env:Envelope")
	prefixes.declare(&b)
	b.WriteString(">")
	if h != nil {
		var raw bytes.Buffer
		if err := h.marshal(&raw); err != nil {
			return nil, err
		}
		b.WriteString("<env:Header>")
		if err := writePrefixed(&b, prefixes, raw.Bytes()); err != nil {
			return nil, fmt.Errorf("onvif: header: %w", err)
		}
		b.WriteString("</env:Header>")
	}
	b.WriteString("<env:Body>")
	if body != nil {
		raw, err := xml.Marshal(body)
		if err != nil {
			return nil, err
		}
		if err := writePrefixed(&b, prefixes, raw); err != nil {
			return nil, err
		}
	}
	b.WriteString("</env:Body></env:Envelope>")
	return b.Bytes(), nil
}

// marshal writes the header blocks in their namespaces.
func (h *Header) marshal(w io.Writer) error {
	enc := xml.NewEncoder(w)
	if h.Security != nil && h.Security.UsernameToken != nil {
		t := h.Security.UsernameToken
		sec := xml.StartElement{Name: xml.Name{Space: NSWsse, Local: "Security"}}
		tok := xml.StartElement{Name: xml.Name{Space: NSWsse, Local: "UsernameToken"}}
		pw := xml.StartElement{
			Name: xml.Name{Space: NSWsse, Local: "Password"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "Type"}, Value: t.Password.Type}},
		}
		nonce := xml.StartElement{
			Name: xml.Name{Space: NSWsse, Local: "Nonce"},
			Attr: []xml.Attr{{Name: xml.Name{Local: "EncodingType"}, Value: NonceEncoding}},
		}
		steps := []func() error{
			func() error { return enc.EncodeToken(sec) },
			func() error { return enc.EncodeToken(tok) },
			func() error {
				return enc.EncodeElement(t.Username, xml.StartElement{Name: xml.Name{Space: NSWsse, Local: "Username"}})
			},
			func() error { return enc.EncodeElement(t.Password.Value, pw) },
			func() error { return enc.EncodeElement(t.Nonce, nonce) },
			func() error {
				return enc.EncodeElement(t.Created, xml.StartElement{Name: xml.Name{Space: NSWsu, Local: "Created"}})
			},
			func() error { return enc.EncodeToken(tok.End()) },
			func() error { return enc.EncodeToken(sec.End()) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
	}
	ns := h.Addressing
	if ns == "" {
		ns = NSWsa
	}
	for _, f := range [...]struct{ name, value string }{
		{"Action", h.Action}, {"MessageID", h.MessageID}, {"To", h.To}, {"RelatesTo", h.RelatesTo},
	} {
		if f.value == "" {
			continue
		}
		if err := enc.EncodeElement(f.value, xml.StartElement{Name: xml.Name{Space: ns, Local: f.name}}); err != nil {
			return err
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(h.Extra)
	return err
}

// headerWire matches header blocks by local name, whatever their prefix or
// WS-Addressing version.
type headerWire struct {
	Security  *Security `xml:"Security"`
	Action    string    `xml:"Action"`
	MessageID string    `xml:"MessageID"`
	To        string    `xml:"To"`
	RelatesTo string    `xml:"RelatesTo"`
}

func (w headerWire) header() Header {
	return Header{
		Security:  w.Security,
		Action:    strings.TrimSpace(w.Action),
		MessageID: strings.TrimSpace(w.MessageID),
		To:        strings.TrimSpace(w.To),
		RelatesTo: strings.TrimSpace(w.RelatesTo),
	}
}

func isSoapNS(ns string) bool { return ns == NSSoap || ns == NSSoap11 }

// newDecoder reads doc, accepting the few non-UTF-8 declarations cameras send.
func newDecoder(doc []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.CharsetReader = charsetReader
	return d
}

// charsetReader accepts ASCII (a subset of UTF-8) and Latin-1 (mapped to
// UTF-8 rune by rune); other encodings are refused.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "us-ascii", "ascii", "utf8":
		return r, nil
	case "iso-8859-1", "latin1", "latin-1":
		return latin1Reader{r: r}, nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}

// latin1Reader turns Latin-1 bytes into UTF-8.
type latin1Reader struct{ r io.Reader }

func (l latin1Reader) Read(p []byte) (int, error) {
	if len(p) < 2 {
		return 0, io.ErrShortBuffer
	}
	buf := make([]byte, len(p)/2)
	n, err := l.r.Read(buf)
	out := p[:0]
	for _, c := range buf[:n] {
		out = append(out, string(rune(c))...)
	}
	return len(out), err
}

// firstStart returns the document's root element.
func firstStart(d *xml.Decoder) (*xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return &s, nil
		}
	}
}

// nextChild returns the next child element of the element being read, or
// nil at its end.
func nextChild(d *xml.Decoder) (*xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return &t, nil
		case xml.EndElement:
			return nil, nil
		}
	}
}

// notONVIF wraps ErrNotONVIF with a short, printable start of the answer.
func notONVIF(doc []byte, cause error) error {
	const show = 64
	s := doc
	if len(s) > show {
		s = s[:show]
	}
	if cause == nil {
		cause = errors.New("not a SOAP envelope")
	}
	return fmt.Errorf("%w: %v (answer begins %q)", ErrNotONVIF, cause, s)
}
