package onvif

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"time"
)

// Notification is one event a camera reported.
type Notification struct {
	// Topic as sent, except that a prefix bound to ONVIF's topic namespace
	// is written tns1, so that "ns2:RuleEngine/CellMotionDetector/Motion"
	// reads "tns1:RuleEngine/CellMotionDetector/Motion".
	Topic string
	// Time is the message's UtcTime; zero when absent or unreadable.
	Time time.Time
	// PropertyOperation is Initialized, Changed or Deleted for property
	// events; "" for others.
	PropertyOperation string
	// Source and Data are the SimpleItems under Message/Source and
	// Message/Data, by name.
	Source map[string]string
	Data   map[string]string
}

type notificationWire struct {
	Topic   topicWire `xml:"Topic"`
	Message struct {
		Message struct {
			UtcTime           string    `xml:"UtcTime,attr"`
			PropertyOperation string    `xml:"PropertyOperation,attr"`
			Source            itemsWire `xml:"Source"`
			Data              itemsWire `xml:"Data"`
		} `xml:"Message"`
	} `xml:"Message"`
}

type itemsWire struct {
	SimpleItem []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:"Value,attr"`
	} `xml:"SimpleItem"`
}

func (w itemsWire) values() map[string]string {
	m := make(map[string]string, len(w.SimpleItem))
	for _, it := range w.SimpleItem {
		m[it.Name] = it.Value
	}
	return m
}

// topicWire is the topic's text and the prefixes its element declares.
type topicWire struct {
	decls map[string]string
	text  string
}

func (t *topicWire) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	t.decls = nsDecls(start)
	var text struct {
		Value string `xml:",chardata"`
	}
	if err := d.DecodeElement(&text, &start); err != nil {
		return err
	}
	t.text = strings.TrimSpace(text.Value)
	return nil
}

// nsDecls are the xmlns:prefix declarations of an element.
func nsDecls(s xml.StartElement) map[string]string {
	var m map[string]string
	for _, a := range s.Attr {
		if a.Name.Space == "xmlns" {
			if m == nil {
				m = map[string]string{}
			}
			m[a.Name.Local] = a.Value
		}
	}
	return m
}

// pullResult is a PullMessages answer.
type pullResult struct {
	notifications []Notification
	termination   time.Time
}

// parsePullMessages reads a PullMessagesResponse (or a fault, as *Fault),
// resolving each topic's prefixes against the declarations in scope.
func parsePullMessages(doc []byte) (pullResult, error) {
	env, err := ParseEnvelope(doc)
	if err != nil {
		return pullResult{}, err
	}
	if f := env.Fault(); f != nil {
		return pullResult{}, f
	}
	var res pullResult
	var scopes []map[string]string
	lookup := func(own map[string]string, prefix string) string {
		if ns, ok := own[prefix]; ok {
			return ns
		}
		for i := len(scopes) - 1; i >= 0; i-- {
			if ns, ok := scopes[i][prefix]; ok {
				return ns
			}
		}
		return ""
	}
	d := newDecoder(doc)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return pullResult{}, notONVIF(doc, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "NotificationMessage":
				scopes = append(scopes, nsDecls(t))
				var w notificationWire
				if err := d.DecodeElement(&w, &t); err != nil {
					return pullResult{}, notONVIF(doc, err)
				}
				topic := canonicalTopic(w.Topic.text, func(p string) string { return lookup(w.Topic.decls, p) })
				res.notifications = append(res.notifications, w.notification(topic))
				scopes = scopes[:len(scopes)-1]
				continue
			case "TerminationTime":
				var v string
				if err := d.DecodeElement(&v, &t); err != nil {
					return pullResult{}, notONVIF(doc, err)
				}
				res.termination = parseUTC(v)
				continue
			}
			scopes = append(scopes, nsDecls(t))
		case xml.EndElement:
			if len(scopes) > 0 {
				scopes = scopes[:len(scopes)-1]
			}
		}
	}
}

func (w *notificationWire) notification(topic string) Notification {
	m := w.Message.Message
	return Notification{
		Topic:             topic,
		Time:              parseUTC(m.UtcTime),
		PropertyOperation: strings.TrimSpace(m.PropertyOperation),
		Source:            m.Source.values(),
		Data:              m.Data.values(),
	}
}

// canonicalTopic writes tns1 for every prefix bound to NSTopics.
func canonicalTopic(topic string, ns func(prefix string) string) string {
	parts := strings.Split(topic, "/")
	for i, p := range parts {
		if prefix, rest, ok := strings.Cut(p, ":"); ok && ns(prefix) == NSTopics {
			parts[i] = "tns1:" + rest
		}
	}
	return strings.Join(parts, "/")
}

// parseUTC reads an xs:dateTime; one without a zone is taken as UTC, as
// ONVIF's times are. Unreadable is zero.
func parseUTC(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
