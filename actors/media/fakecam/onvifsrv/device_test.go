package onvifsrv

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSystemDateAndTimeShowsClockOffset(t *testing.T) {
	offset := -3*time.Hour - 17*time.Minute
	s := start(t, Options{ClockOffset: offset})
	resp := mustCall(t, s, "", `<tds:GetSystemDateAndTime/>`)
	u := path(resp, "SystemDateAndTime", "UTCDateTime")
	num := func(p ...string) int {
		n, err := strconv.Atoi(path(u, p...).text())
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		return n
	}
	got := time.Date(num("Date", "Year"), time.Month(num("Date", "Month")), num("Date", "Day"),
		num("Time", "Hour"), num("Time", "Minute"), num("Time", "Second"), 0, time.UTC)
	if d := got.Sub(time.Now().Add(offset)); d > 2*time.Second || d < -2*time.Second {
		t.Fatalf("camera time %v is %v from ours+offset", got, d)
	}
}

func TestDeviceInformation(t *testing.T) {
	s := start(t, Options{})
	resp := mustCall(t, s, "", `<tds:GetDeviceInformation/>`)
	for k, want := range map[string]string{"Manufacturer": "Argus", "Model": "fakecam", "FirmwareVersion": "1.0"} {
		if got := resp.child(k).text(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if sn := resp.child("SerialNumber").text(); len(sn) < 8 || sn != s.o.Serial {
		t.Errorf("serial %q", sn)
	}
	s2 := start(t, Options{Manufacturer: "Acme", Model: "X1", Serial: "SN1", Firmware: "9.9"})
	resp = mustCall(t, s2, "", `<tds:GetDeviceInformation/>`)
	if resp.child("Manufacturer").text() != "Acme" || resp.child("SerialNumber").text() != "SN1" || resp.child("FirmwareVersion").text() != "9.9" {
		t.Errorf("given identity not reported: %v", resp)
	}
}

func TestServicesAndCapabilities(t *testing.T) {
	for _, ptz := range []bool{false, true} {
		s := start(t, Options{PTZ: ptz})
		base := "http://" + s.Addr()

		resp := mustCall(t, s, "", `<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>`)
		xaddrs := map[string]string{}
		for _, sv := range resp.children("Service") {
			xaddrs[sv.child("Namespace").text()] = sv.child("XAddr").text()
			if sv.child("Capabilities").child("Capabilities") == nil {
				t.Errorf("%s: no capabilities", sv.child("Namespace").text())
			}
			if path(sv, "Version", "Major").text() != "2" {
				t.Errorf("%s: version %v", sv.child("Namespace").text(), sv.child("Version"))
			}
		}
		want := map[string]string{
			"http://www.onvif.org/ver10/device/wsdl": base + "/onvif/device_service",
			"http://www.onvif.org/ver10/media/wsdl":  base + "/onvif/media_service",
			"http://www.onvif.org/ver10/events/wsdl": base + "/onvif/events_service",
		}
		if ptz {
			want["http://www.onvif.org/ver20/ptz/wsdl"] = base + "/onvif/ptz_service"
		}
		if len(xaddrs) != len(want) {
			t.Errorf("ptz=%v: services %v", ptz, xaddrs)
		}
		for ns, x := range want {
			if xaddrs[ns] != x {
				t.Errorf("ptz=%v: %s at %q, want %q", ptz, ns, xaddrs[ns], x)
			}
		}

		caps := mustCall(t, s, "", `<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>`).child("Capabilities")
		for _, c := range []string{"Device", "Media", "Events"} {
			if x := path(caps, c, "XAddr").text(); !strings.HasPrefix(x, base+"/onvif/") {
				t.Errorf("GetCapabilities %s XAddr %q", c, x)
			}
		}
		if (caps.child("PTZ") != nil) != ptz {
			t.Errorf("ptz=%v: PTZ capability %v", ptz, caps.child("PTZ"))
		}
		if path(caps, "Events", "WSPullPointSupport").text() != "true" {
			t.Errorf("no pull point support")
		}
		r := post(t, s.DeviceURL(), soapDoc("", `<tds:GetCapabilities><tds:Category>PTZ</tds:Category></tds:GetCapabilities>`))
		if ptz && r.status != 200 || !ptz && r.fault() != "Receiver/ActionNotSupported/NoSuchService" {
			t.Errorf("ptz=%v: GetCapabilities(PTZ): %d %q", ptz, r.status, r.fault())
		}
		media := mustCall(t, s, "", `<tds:GetCapabilities><tds:Category>Media</tds:Category></tds:GetCapabilities>`).child("Capabilities")
		if media.child("Device") != nil || media.child("Media") == nil {
			t.Errorf("GetCapabilities(Media) answered %v", media)
		}
	}
}

func TestScopes(t *testing.T) {
	s := start(t, Options{Manufacturer: "Acme Corp", Model: "X1", PTZ: true})
	resp := mustCall(t, s, "", `<tds:GetScopes/>`)
	var items []string
	for _, sc := range resp.children("Scopes") {
		if sc.child("ScopeDef").text() != "Fixed" {
			t.Errorf("scope def %q", sc.child("ScopeDef").text())
		}
		items = append(items, sc.child("ScopeItem").text())
	}
	got := strings.Join(items, " ")
	for _, want := range []string{
		"onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/type/ptz",
		"onvif://www.onvif.org/hardware/X1", "onvif://www.onvif.org/name/Acme%20Corp",
		"onvif://www.onvif.org/location/",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("scopes %q lack %q", got, want)
		}
	}
	ep := mustCall(t, s, "", `<tds:GetEndpointReference/>`).child("GUID").text()
	if ep != s.endpoint || !strings.HasPrefix(ep, "urn:uuid:") || len(ep) != len("urn:uuid:")+36 {
		t.Errorf("endpoint %q", ep)
	}
}

func TestRestartKeepsIdentityAndPorts(t *testing.T) {
	s := start(t, Options{Serial: "FIXED1"})
	url, ep := s.DeviceURL(), s.endpoint
	restart(t, s)
	if s.DeviceURL() != url {
		t.Fatalf("device URL moved: %s → %s", url, s.DeviceURL())
	}
	mustCall(t, s, "", `<tds:GetDeviceInformation/>`)

	// Close, then Start with the same options: the same camera again.
	o := s.Options()
	s.Close()
	s.Close() // idempotent
	http.DefaultClient.CloseIdleConnections()
	s2 := start(t, o)
	if s2.DeviceURL() != url || s2.endpoint != ep {
		t.Fatalf("after Close+Start: %s %s, want %s %s", s2.DeviceURL(), s2.endpoint, url, ep)
	}
	if err := s.Restart(t.Context()); err == nil {
		t.Fatal("restart of a closed server worked")
	}
}
