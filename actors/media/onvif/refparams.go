package onvif

import (
	"bytes"
	"encoding/xml"
)

// maxRefTokens bounds the reference parameters kept from a subscription.
const maxRefTokens = 256

// referenceParameters are a WS-Addressing EPR's reference parameters,
// which the subscription's every request must carry as header blocks
// (Axis cameras address subscriptions this way). They are kept as tokens,
// with names resolved, so that they can be written again outside the
// document that declared their prefixes.
type referenceParameters struct {
	tokens []xml.Token
}

func (r *referenceParameters) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			attrs := t.Attr[:0:0]
			for _, a := range t.Attr {
				// Declarations are redone by the encoder from resolved names.
				if a.Name.Space != "xmlns" && !(a.Name.Space == "" && a.Name.Local == "xmlns") {
					attrs = append(attrs, a)
				}
			}
			t.Attr = attrs
			tok = t
		case xml.EndElement:
			if depth == 0 {
				return nil
			}
			depth--
		case xml.CharData:
			if depth == 0 {
				continue // whitespace between blocks
			}
		default:
			continue // comments, processing instructions
		}
		if len(r.tokens) < maxRefTokens {
			r.tokens = append(r.tokens, xml.CopyToken(tok))
		}
	}
}

// headerBlocks writes the parameters as header blocks; nil when there are
// none or they were cut short (an unbalanced writing would break the
// envelope).
func (r *referenceParameters) headerBlocks() []byte {
	if r == nil || len(r.tokens) == 0 || len(r.tokens) >= maxRefTokens {
		return nil
	}
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	for _, t := range r.tokens {
		if err := enc.EncodeToken(t); err != nil {
			return nil
		}
	}
	if err := enc.Close(); err != nil {
		return nil
	}
	return b.Bytes()
}
