package onvif

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// maxFuzzInput keeps fuzz inputs within what a call reads by default.
const maxFuzzInput = defaultMaxBody

// addTestdata seeds f with the canned answers.
func addTestdata(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.ReplaceAll(string(b), "{{HOST}}", "192.0.2.1"))
	}
}

func FuzzParseEnvelope(f *testing.F) {
	addTestdata(f, "capabilities.xml", "services.xml", "profiles.xml", "fault_no_profile.xml", "ptz_status.xml", "ptz_presets.xml")
	f.Add(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header><Security><UsernameToken><Nonce>AAAA</Nonce></UsernameToken></Security></e:Header><e:Body/></e:Envelope>`)
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > maxFuzzInput {
			return // beyond what a camera answer may be: refused before parsing
		}
		env, err := ParseEnvelope([]byte(doc))
		if err != nil {
			if !errors.Is(err, ErrNotONVIF) {
				t.Fatalf("error not ErrNotONVIF: %v", err)
			}
			return
		}
		if f := env.Fault(); f != nil {
			_ = f.Error()
			if len(f.Subcodes) > maxSubcodes {
				t.Fatalf("%d subcodes", len(f.Subcodes))
			}
		}
		if tok := env.Header.Security; tok != nil && tok.UsernameToken != nil {
			tok.UsernameToken.CheckPassword("x")
		}
		var caps capabilitiesResponse
		_ = env.DecodeBody(&caps)
		var profiles profilesResponse
		if env.DecodeBody(&profiles) == nil && len(profiles.Profiles) > len(doc) {
			t.Fatal("more profiles than bytes")
		}
		var status statusResponse
		if env.DecodeBody(&status) == nil {
			status.PTZStatus.Position.value()
		}
	})
}

func FuzzParseFault(f *testing.F) {
	f.Add(`<e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>ter:InvalidArgVal</e:Value><e:Subcode><e:Value>ter:NoProfile</e:Value></e:Subcode></e:Subcode></e:Code><e:Reason><e:Text xml:lang="en">No profile</e:Text></e:Reason>`)
	f.Add(`<faultcode>s:Client</faultcode><faultstring>bad</faultstring>`)
	f.Add(strings.Repeat(`<e:Code><e:Subcode>`, 20) + strings.Repeat(`</e:Subcode></e:Code>`, 20))
	f.Fuzz(func(t *testing.T, inner string) {
		if len(inner) > maxFuzzInput {
			return // beyond what a camera answer may be: refused before parsing
		}
		doc := `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><e:Body><e:Fault>` +
			inner + `</e:Fault></e:Body></e:Envelope>`
		env, err := ParseEnvelope([]byte(doc))
		if err != nil {
			return
		}
		fault := env.Fault()
		if fault == nil {
			t.Fatal("a Fault body gave no fault")
		}
		if len(fault.Subcodes) > maxSubcodes {
			t.Fatalf("%d subcodes", len(fault.Subcodes))
		}
		_ = fault.Error()
		_ = errors.Is(fault, ErrUnauthorized)
	})
}

// FuzzFaultRoundTrip checks that what MarshalEnvelope writes parses back.
func FuzzFaultRoundTrip(f *testing.F) {
	f.Add("env:Sender", "ter:NotAuthorized", "Sender not authorized")
	f.Add("env:Receiver", "ter:Action<Failed>", `quote " & ' done`)
	f.Fuzz(func(t *testing.T, code, subcode, reason string) {
		in := NewFault(code, reason, subcode)
		doc, err := MarshalEnvelope(nil, in)
		if err != nil {
			return // encoding/xml refuses some characters
		}
		env, err := ParseEnvelope(doc)
		if err != nil {
			t.Fatalf("our own envelope: %v\n%s", err, doc)
		}
		out := env.Fault()
		if out == nil {
			t.Fatalf("no fault in %s", doc)
		}
		printable := func(s string) bool {
			return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }) < 0
		}
		if printable(code) && printable(subcode) && printable(reason) && (out.Code != strings.TrimSpace(code) || out.Reason != strings.TrimSpace(reason) ||
			len(out.Subcodes) != 1 || out.Subcodes[0] != strings.TrimSpace(subcode)) {
			t.Fatalf("in %+v, out %+v", in, out)
		}
	})
}

func FuzzParseNotifications(f *testing.F) {
	addTestdata(f, "pull_messages.xml", "fault_not_authorized.xml")
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > maxFuzzInput {
			return // beyond what a camera answer may be: refused before parsing
		}
		res, err := parsePullMessages([]byte(doc))
		if err != nil {
			return
		}
		if len(res.notifications) > len(doc)/20 {
			t.Fatalf("%d notifications from %d bytes", len(res.notifications), len(doc))
		}
	})
}

func FuzzParseProbeMatches(f *testing.F) {
	b, err := os.ReadFile("testdata/probe_matches.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(strings.NewReplacer("{{HOST}}", "192.0.2.1", "{{RELATES}}", "urn:uuid:1").Replace(string(b)))
	f.Fuzz(func(t *testing.T, doc string) {
		if len(doc) > maxDatagram {
			return // beyond what a camera answer may be: refused before parsing
		}
		got, err := parseProbeMatches([]byte(doc), "urn:uuid:1")
		if err != nil {
			return
		}
		if len(got) > len(doc)/10 {
			t.Fatalf("%d candidates from %d bytes", len(got), len(doc))
		}
		for _, c := range got {
			if len(c.XAddrs) > 0 && c.Address != c.XAddrs[0] {
				t.Fatalf("address %q, XAddrs %q", c.Address, c.XAddrs)
			}
		}
	})
}
