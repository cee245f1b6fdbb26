package onvifsrv

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
)

// node is an element of a response under construction. Names carry the
// prefixes the envelope declares (see envelopePrefixes), so responses read
// like the XML that real cameras send. Text and attribute values are
// escaped when written.
type node struct {
	name  string
	attrs []string // name, value, name, value…
	text  string
	kids  []node
}

// el is an element with children.
func el(name string, kids ...node) node { return node{name: name, kids: kids} }

// leaf is an element with text.
func leaf(name, text string) node { return node{name: name, text: text} }

// attr returns n with one more attribute.
func (n node) attr(name, value string) node {
	n.attrs = append(append([]string(nil), n.attrs...), name, value)
	return n
}

// add returns n with more children.
func (n node) add(kids ...node) node {
	n.kids = append(append([]node(nil), n.kids...), kids...)
	return n
}

// empty reports whether n is the zero node, which write skips: optional
// parts of a response are built as node{} when absent.
func (n node) empty() bool { return n.name == "" }

func (n node) write(b *strings.Builder) {
	if n.empty() {
		return
	}
	b.WriteByte('<')
	b.WriteString(n.name)
	for i := 0; i+1 < len(n.attrs); i += 2 {
		b.WriteByte(' ')
		b.WriteString(n.attrs[i])
		b.WriteString(`="`)
		escape(b, n.attrs[i+1])
		b.WriteByte('"')
	}
	if n.text == "" && len(n.kids) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	escape(b, n.text)
	for _, k := range n.kids {
		k.write(b)
	}
	b.WriteString("</")
	b.WriteString(n.name)
	b.WriteByte('>')
}

func escape(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails
}

// Value formatting shared by the responses.

func itoa(n int) string { return strconv.Itoa(n) }

// ftoa writes a coordinate to a millionth, never as "-0" or in E notation
// (some clients' number parsing accepts neither).
func ftoa(f float64) string {
	r := math.Round(f*1e6) / 1e6
	if r == 0 {
		r = 0
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func btoa(v bool) string { return strconv.FormatBool(v) }
