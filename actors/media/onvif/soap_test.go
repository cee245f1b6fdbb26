package onvif

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	created := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	tok, err := NewUsernameToken("admin", testPass, created)
	if err != nil {
		t.Fatal(err)
	}
	h := &Header{Security: &Security{UsernameToken: tok}, Action: "urn:a", To: "http://cam/x", MessageID: "urn:uuid:1"}
	doc, err := MarshalEnvelope(h, getSnapshotURI{ProfileToken: "P<1>"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), testPass) {
		t.Fatal("the password is on the wire")
	}
	env, err := ParseEnvelope(doc)
	if err != nil {
		t.Fatal(err)
	}
	if env.BodyName.Space != NSMedia || env.BodyName.Local != "GetSnapshotUri" || env.IsFault() {
		t.Fatalf("body %v", env.BodyName)
	}
	got := env.Header.Security.UsernameToken
	if got.Created != "2024-05-01T10:00:00Z" || !got.CheckPassword(testPass) || got.CheckPassword("other") {
		t.Fatalf("token %+v", got)
	}
	if env.Header.Action != "urn:a" || env.Header.To != "http://cam/x" || env.Header.MessageID != "urn:uuid:1" {
		t.Fatalf("header %+v", env.Header)
	}
	var body struct {
		ProfileToken string `xml:"ProfileToken"`
	}
	if err := env.DecodeBody(&body); err != nil || body.ProfileToken != "P<1>" {
		t.Fatalf("body %+v %v", body, err)
	}
}

func TestFaultRoundTrip(t *testing.T) {
	f := NewFault(FaultSender, "No such profile & more", "ter:InvalidArgVal", "ter:NoProfile")
	doc, err := MarshalEnvelope(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvelope(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := env.Fault()
	if got == nil || got.Code != FaultSender || len(got.Subcodes) != 2 || got.Subcodes[1] != "ter:NoProfile" || got.Reason != f.Reason {
		t.Fatalf("fault %+v from %s", got, doc)
	}
	if f.HTTPStatus() != 400 || NewFault(FaultReceiver, "x").HTTPStatus() != 500 {
		t.Fatal("HTTP status")
	}
	var v struct{}
	err = env.DecodeBody(&v)
	var asFault *Fault
	if !errors.As(err, &asFault) || !strings.Contains(err.Error(), "No such profile") {
		t.Fatalf("DecodeBody of a fault: %v", err)
	}
}

func TestSOAP11Fault(t *testing.T) {
	doc := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>Bad request</faultstring></s:Fault></s:Body></s:Envelope>`
	env, err := ParseEnvelope([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if f := env.Fault(); f == nil || f.Code != "s:Client" || f.Reason != "Bad request" {
		t.Fatalf("%+v", f)
	}
}

func TestReadEnvelopeIsBounded(t *testing.T) {
	doc := readTestdata(t, "device_information.xml")
	if _, err := ReadEnvelope(strings.NewReader(doc), int64(len(doc))); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnvelope(strings.NewReader(doc), int64(len(doc)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
}

func TestParseEnvelopeRefusesOtherDocuments(t *testing.T) {
	for _, doc := range []string{"", "hello", "<html/>", `<Envelope><Body/></Envelope>`, `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header/></e:Envelope>`} {
		if _, err := ParseEnvelope([]byte(doc)); !errors.Is(err, ErrNotONVIF) {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestLatin1Answer(t *testing.T) {
	doc := append([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><r><Model>C`), 0xe9)
	doc = append(doc, []byte(`ra</Model></r></e:Body></e:Envelope>`)...)
	env, err := ParseEnvelope(doc)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Model string `xml:"Model"`
	}
	if err := env.DecodeBody(&r); err != nil || r.Model != "Céra" {
		t.Fatalf("%q %v", r.Model, err)
	}
}

func TestWritePrefixedDeclaresUnknownNamespaces(t *testing.T) {
	var b bytes.Buffer
	in := `<a xmlns="urn:x"><b xmlns="http://www.onvif.org/ver10/schema" c="1">t&amp;</b><d></d></a>`
	if err := writePrefixed(&b, prefixesFor(""), []byte(in)); err != nil {
		t.Fatal(err)
	}
	if want := `<ns0:a xmlns:ns0="urn:x"><tt:b c="1">t&amp;</tt:b><ns0:d/></ns0:a>`; b.String() != want {
		t.Fatalf("got  %s\nwant %s", b.String(), want)
	}
}
