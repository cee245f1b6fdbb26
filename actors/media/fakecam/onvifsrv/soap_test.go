package onvifsrv

import (
	"net/http"
	"strings"
	"testing"
)

func TestMalformedRequests(t *testing.T) {
	s := start(t, Options{})
	cases := []struct {
		name, doc string
		status    int
		fault     string
	}{
		{"not XML", "<s:Envelope", 400, "Sender/WellFormed"},
		{"unclosed tag", soapDoc("", "<tds:GetDeviceInformation>"), 400, "Sender/WellFormed"},
		{"trailing garbage", soapDoc("", "<tds:GetDeviceInformation/>") + "<x/>", 400, "Sender/WellFormed"},
		{"DTD", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>` + soapDoc("", "<tds:GetDeviceInformation/>"), 400, "Sender/WellFormed"},
		{"undeclared prefix", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x:Foo/></s:Body></s:Envelope>`, 500, "Receiver/ActionNotSupported"},
		{"not an envelope", `<Foo/>`, 400, "Sender/InvalidArgs"},
		{"SOAP 1.1", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>`, 500, "VersionMismatch"},
		{"empty body", soapDoc("", ""), 400, "Sender/InvalidArgs"},
		{"unknown operation", soapDoc("", "<tds:Reboot/>"), 500, "Receiver/ActionNotSupported"},
		{"operation in the wrong namespace", soapDoc("", "<trt:GetDeviceInformation/>"), 500, "Receiver/ActionNotSupported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectFault(t, post(t, s.DeviceURL(), c.doc), c.status, c.fault)
		})
	}
}

func TestDeepNestingRefused(t *testing.T) {
	s := start(t, Options{})
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	expectFault(t, post(t, s.DeviceURL(), soapDoc("", "<tds:GetScopes>"+deep+"</tds:GetScopes>")), 400, "Sender/WellFormed")
}

func TestOversizedBody(t *testing.T) {
	s := start(t, Options{})
	big := soapDoc("", "<tds:GetScopes>"+strings.Repeat("x", maxRequestBytes)+"</tds:GetScopes>")
	r := post(t, s.DeviceURL(), big)
	expectFault(t, r, http.StatusRequestEntityTooLarge, "Sender/InvalidArgs")
}

// Dispatch is by the body's first element: any service path answers any
// operation, as with cameras that serve everything at one URL.
func TestDispatchByBodyNotPath(t *testing.T) {
	s := start(t, Options{PTZ: true})
	for _, p := range []string{"/onvif/device_service", "/onvif/media_service", "/onvif/ptz_service", "/onvif/events_service"} {
		r := post(t, "http://"+s.Addr()+p, soapDoc("", `<trt:GetProfiles/>`))
		if r.status != 200 || r.body.Name.Local != "GetProfilesResponse" {
			t.Fatalf("%s: %d %s", p, r.status, r.raw)
		}
	}
	resp, err := http.Post("http://"+s.Addr()+"/onvif/other", "application/soap+xml", strings.NewReader(soapDoc("", `<trt:GetProfiles/>`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	resp, err = http.Get(s.DeviceURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET of a service: %d", resp.StatusCode)
	}
}

// Children are matched by local name whatever their namespace (clients
// differ), and the default namespace works as well as prefixes.
func TestLenientChildNamespaces(t *testing.T) {
	s := start(t, Options{})
	for _, body := range []string{
		`<GetProfile xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>main</ProfileToken></GetProfile>`,
		`<trt:GetProfile><tt:ProfileToken>main</tt:ProfileToken></trt:GetProfile>`,
		`<m:GetProfile xmlns:m="http://www.onvif.org/ver10/media/wsdl"><ProfileToken xmlns="">main</ProfileToken></m:GetProfile>`,
	} {
		resp := mustCall(t, s, "", body)
		if got := attrOf(t, resp.child("Profile"), "token"); got != "main" {
			t.Fatalf("%s: profile %q", body, got)
		}
	}
}
