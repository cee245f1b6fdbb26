package onvif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

const nsXML = "http://www.w3.org/XML/1998/namespace"

// prefixSet is the prefixes an envelope declares, by namespace.
type prefixSet map[string]string

// prefixesFor is the envelope's prefixes: ONVIF's, with wsa bound to the
// WS-Addressing version the header speaks.
func prefixesFor(addressing string) prefixSet {
	m := make(prefixSet, len(envelopePrefixes))
	for _, p := range envelopePrefixes {
		m[p[1]] = p[0]
	}
	if addressing != "" && addressing != NSWsa {
		delete(m, NSWsa)
		m[addressing] = "wsa"
	}
	return m
}

// declare writes the set's xmlns:prefix declarations in the usual order.
func (ps prefixSet) declare(b *bytes.Buffer) {
	byPrefix := make(map[string]string, len(ps))
	for ns, p := range ps {
		byPrefix[p] = ns
	}
	for _, p := range envelopePrefixes {
		fmt.Fprintf(b, " xmlns:%s=%q", p[0], byPrefix[p[0]])
	}
}

// writePrefixed rewrites XML that encoding/xml wrote (a default namespace
// declared on nearly every element) with the envelope's prefixes —
// <trt:ProfileToken> rather than <ProfileToken xmlns="…"> — the shape
// cameras are tested against. Namespaces without a prefix of ours get one
// declared where they are used; empty elements are closed at once.
func writePrefixed(b *bytes.Buffer, prefixOf prefixSet, fragment []byte) error {
	d := xml.NewDecoder(bytes.NewReader(fragment))
	var stack []string
	var scopes []map[string]string // namespaces given a prefix here, per open element
	pending := false               // a start tag waits for ">" or "/>"
	generated := 0
	closePending := func() {
		if pending {
			b.WriteByte('>')
			pending = false
		}
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				return io.ErrUnexpectedEOF
			}
			closePending()
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			closePending()
			var decls []xml.Attr
			declared := map[string]string{}
			name := func(n xml.Name) string {
				switch {
				case n.Space == "":
					return n.Local
				case n.Space == nsXML:
					return "xml:" + n.Local
				}
				if p, ok := prefixOf[n.Space]; ok {
					return p + ":" + n.Local
				}
				if p, ok := declared[n.Space]; ok {
					return p + ":" + n.Local
				}
				for i := len(scopes) - 1; i >= 0; i-- {
					if p, ok := scopes[i][n.Space]; ok {
						return p + ":" + n.Local
					}
				}
				p := fmt.Sprintf("ns%d", generated)
				generated++
				declared[n.Space] = p
				decls = append(decls, xml.Attr{Name: xml.Name{Local: p}, Value: n.Space})
				return p + ":" + n.Local
			}
			qn := name(t.Name)
			var attrs bytes.Buffer
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				fmt.Fprintf(&attrs, " %s=\"", name(a.Name))
				xml.EscapeText(&attrs, []byte(a.Value))
				attrs.WriteByte('"')
			}
			b.WriteString("<" + qn)
			for _, a := range decls {
				fmt.Fprintf(b, " xmlns:%s=\"", a.Name.Local)
				xml.EscapeText(b, []byte(a.Value))
				b.WriteByte('"')
			}
			b.Write(attrs.Bytes())
			stack = append(stack, qn)
			scopes = append(scopes, declared)
			pending = true
		case xml.EndElement:
			qn := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			scopes = scopes[:len(scopes)-1]
			if pending {
				b.WriteString("/>")
				pending = false
				continue
			}
			b.WriteString("</" + qn + ">")
		case xml.CharData:
			closePending()
			xml.EscapeText(b, t)
		}
	}
}
