package onvifsrv

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// elem is one element of a parsed request: its namespace-resolved name,
// attributes, text and children. Requests are read into this small tree
// instead of per-operation structs so that handlers can be lenient about
// the namespaces of an operation's children, as cameras are: clients put
// ProfileToken in the service's namespace, in tt's, or in none.
type elem struct {
	Name  xml.Name
	Attr  []xml.Attr
	Text  string // character data directly inside, trimmed
	Kids  []*elem
	scope *nsScope // prefixes in scope here, for QName values in text
}

// nsScope maps prefixes to namespaces ("" is the default namespace).
type nsScope struct {
	parent *nsScope
	m      map[string]string
}

func (s *nsScope) lookup(prefix string) (string, bool) {
	for ; s != nil; s = s.parent {
		if ns, ok := s.m[prefix]; ok {
			return ns, true
		}
	}
	return "", false
}

// Parsing limits beyond the size bound of the caller: a request of ONVIF
// is shallow, so deep nesting is an attack or a bug.
const (
	maxDepth    = 64
	maxElements = 20000
)

var errNoDTD = errors.New("DTDs are not allowed in SOAP messages")

// parseTree reads one well-formed XML document into a tree. Anything after
// the root element other than whitespace, comments or processing
// instructions is an error, as is a DOCTYPE.
func parseTree(doc []byte) (*elem, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var (
		root  *elem
		stack []*elem
		texts []*strings.Builder
		count int
	)
	base := &nsScope{}
	scope := base
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("content after the root element")
			}
			count++
			if count > maxElements {
				return nil, fmt.Errorf("more than %d elements", maxElements)
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("nested deeper than %d", maxDepth)
			}
			e := &elem{Name: t.Name}
			var decl map[string]string
			for _, a := range t.Attr {
				prefix, isDecl := "", false
				switch {
				case a.Name.Space == "xmlns":
					prefix, isDecl = a.Name.Local, true
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					isDecl = true
				}
				if !isDecl {
					e.Attr = append(e.Attr, a)
					continue
				}
				if decl == nil {
					decl = map[string]string{}
				}
				decl[prefix] = a.Value
			}
			e.scope = scope
			if decl != nil {
				e.scope = &nsScope{parent: scope, m: decl}
			}
			scope = e.scope
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Kids = append(p.Kids, e)
			} else {
				root = e
			}
			stack = append(stack, e)
			texts = append(texts, &strings.Builder{})
		case xml.EndElement:
			e := stack[len(stack)-1]
			e.Text = strings.TrimSpace(texts[len(texts)-1].String())
			stack, texts = stack[:len(stack)-1], texts[:len(texts)-1]
			scope = base
			if len(stack) > 0 {
				scope = stack[len(stack)-1].scope
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, errors.New("text outside the root element")
				}
				continue
			}
			texts[len(texts)-1].Write(t)
		case xml.Directive:
			return nil, errNoDTD
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// child is e's first child named local, in any namespace (nil if none or
// e is nil).
func (e *elem) child(local string) *elem {
	if e == nil {
		return nil
	}
	for _, k := range e.Kids {
		if k.Name.Local == local {
			return k
		}
	}
	return nil
}

// childNS is e's first child with exactly that name.
func (e *elem) childNS(space, local string) *elem {
	if e == nil {
		return nil
	}
	for _, k := range e.Kids {
		if k.Name.Local == local && k.Name.Space == space {
			return k
		}
	}
	return nil
}

// children are e's children named local, in any namespace.
func (e *elem) children(local string) []*elem {
	if e == nil {
		return nil
	}
	var out []*elem
	for _, k := range e.Kids {
		if k.Name.Local == local {
			out = append(out, k)
		}
	}
	return out
}

// text of e, "" when e is nil.
func (e *elem) text() string {
	if e == nil {
		return ""
	}
	return e.Text
}

// attr is the value of e's attribute named local (any namespace), and
// whether it is there.
func (e *elem) attr(local string) (string, bool) {
	if e == nil {
		return "", false
	}
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return strings.TrimSpace(a.Value), true
		}
	}
	return "", false
}

// resolve expands a QName written in e's text or attributes ("dn:Foo") to
// its namespace and local name with the prefixes in scope at e. ok is
// false when the prefix is not declared.
func (e *elem) resolve(qname string) (name xml.Name, ok bool) {
	prefix, local, found := strings.Cut(qname, ":")
	if !found {
		prefix, local = "", qname
	}
	ns, ok := e.scope.lookup(prefix)
	if !ok && prefix == "" {
		return xml.Name{Local: local}, true
	}
	return xml.Name{Space: ns, Local: local}, ok
}
