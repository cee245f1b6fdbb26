package onvif

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	testUser = "admin"
	testPass = "s3cret-Pa55"
)

func newTestClient(t *testing.T, cam *cannedCamera, o Options) *Client {
	t.Helper()
	if o.Username == "" {
		o.Username, o.Password = testUser, testPass
	}
	c, err := New(cam.deviceURL(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noPassword fails when an error shows the password.
func noPassword(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testPass) {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestNewValidatesTheDeviceURL(t *testing.T) {
	for _, bad := range []string{"rtsp://cam/onvif/device_service", "http:///onvif", "://x", "cam:80"} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	c, err := New("http://admin:"+testPass+"@192.0.2.1:8080/onvif/device_service", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.DeviceURL(), testPass) || c.opts.Username != "admin" || c.opts.Password != testPass {
		t.Fatalf("credentials in the URL: url %s, user %q", c.DeviceURL(), c.opts.Username)
	}
	if c.opts.Timeout != 5*time.Second || c.opts.MaxBody != 1<<20 {
		t.Fatalf("defaults: %v %d", c.opts.Timeout, c.opts.MaxBody)
	}
}

func TestConnectFindsServicesAndMedia(t *testing.T) {
	cam := newTestCamera(t)
	cameraAhead := 2 * time.Hour
	cam.answer("GetSystemDateAndTime", systemDateAndTime(time.Now().Add(cameraAhead)))
	c := newTestClient(t, cam, Options{})
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}

	if off := c.ClockOffset(); off < cameraAhead-2*time.Second || off > cameraAhead+2*time.Second {
		t.Fatalf("clock offset %v, want about %v", off, cameraAhead)
	}
	if call := cam.lastCall("GetSystemDateAndTime"); call.env.Header.Security != nil {
		t.Fatal("GetSystemDateAndTime carried a UsernameToken")
	}
	caps := cam.lastCall("GetCapabilities")
	if skew := time.Until(caps.created) - cameraAhead; skew < -3*time.Second || skew > 3*time.Second {
		t.Fatalf("token created %v: not at the camera's clock", caps.created)
	}
	if want := `application/soap+xml; charset=utf-8; action="http://www.onvif.org/ver10/device/wsdl/GetCapabilities"`; caps.contentType != want {
		t.Fatalf("content type %q", caps.contentType)
	}
	if !strings.Contains(caps.doc, "<tds:Category>All</tds:Category>") {
		t.Fatalf("GetCapabilities without Category All: %s", caps.doc)
	}
	// The media XAddr said 0.0.0.0: it is the device's address now.
	if got, want := c.MediaURL(), cam.srv.URL+"/onvif/Media"; got != want {
		t.Fatalf("media %s, want %s", got, want)
	}
	if got, want := c.EventsURL(), cam.srv.URL+"/onvif/Events"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if !c.HasPTZ() || c.PTZURL() != cam.srv.URL+"/onvif/PTZ" {
		t.Fatalf("PTZ %v %s", c.HasPTZ(), c.PTZURL())
	}

	info, err := c.DeviceInformation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info != (DeviceInfo{"HIKVISION", "DS-2DE4A425IW-DE", "V5.6.15 build 200708", "DS-2DE4A425IW-DE20200101AAWRD12345678", "88"}) {
		t.Fatalf("device info %+v", info)
	}

	profiles, err := c.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Profile{
		{Token: "Profile_1", Name: "mainStream", VideoSourceToken: "VideoSource_1", VideoSourceConfigToken: "VideoSourceToken", Encoding: "H264", Width: 2560, Height: 1440, HasPTZ: true, PTZConfigToken: "PTZToken"},
		{Token: "Profile_2", Name: "subStream", VideoSourceToken: "VideoSource_1", VideoSourceConfigToken: "VideoSourceToken", Encoding: "H265", Width: 640, Height: 360},
	}
	if len(profiles) != 2 || profiles[0] != want[0] || profiles[1] != want[1] {
		t.Fatalf("profiles %+v", profiles)
	}
	if p := cam.lastCall("GetProfiles").path; p != "/onvif/Media" {
		t.Fatalf("GetProfiles went to %s", p)
	}

	uri, err := c.StreamURI(ctx, "Profile_1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "rtsp://127.0.0.1:554/Streaming/Channels/101?transportmode=unicast&profile=Profile_1"; uri != want {
		t.Fatalf("stream URI %s, want %s", uri, want)
	}
	req := cam.lastCall("GetStreamUri").doc
	for _, part := range []string{"<tt:Stream>RTP-Unicast</tt:Stream>", "<tt:Protocol>RTSP</tt:Protocol>", "<trt:ProfileToken>Profile_1</trt:ProfileToken>"} {
		if !strings.Contains(req, part) {
			t.Fatalf("GetStreamUri lacks %s: %s", part, req)
		}
	}
	snap, err := c.SnapshotURI(ctx, "Profile_1")
	if err != nil || snap != "http://192.0.2.7/onvif-http/snapshot?Profile_1" {
		t.Fatalf("snapshot %q %v", snap, err)
	}
}

// newTestCamera is a camera with the usual device and media answers.
func newTestCamera(t *testing.T) *cannedCamera {
	cam := newCannedCamera(t, testUser, testPass)
	cam.answer("GetSystemDateAndTime", systemDateAndTime(time.Now()))
	cam.answer("GetCapabilities", "capabilities.xml")
	cam.answer("GetDeviceInformation", "device_information.xml")
	cam.answer("GetProfiles", "profiles.xml")
	cam.answer("GetStreamUri", "stream_uri.xml")
	cam.answer("GetSnapshotUri", "snapshot_uri.xml")
	return cam
}

func TestConnectFallsBackToGetServices(t *testing.T) {
	cam := newCannedCamera(t, testUser, testPass)
	cam.answer("GetSystemDateAndTime", systemDateAndTime(time.Now()))
	cam.answer("GetServices", "services.xml") // GetCapabilities: ActionNotSupported
	c := newTestClient(t, cam, Options{})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := c.MediaURL(), cam.srv.URL+"/onvif/media_service"; got != want {
		t.Fatalf("media %s, want %s (relative XAddr)", got, want)
	}
	if got, want := c.EventsURL(), cam.srv.URL+"/onvif/event_service"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if c.HasPTZ() || c.PTZURL() != cam.deviceURL() {
		t.Fatalf("no PTZ service, yet %v %s", c.HasPTZ(), c.PTZURL())
	}
}

func TestWrongPasswordIsUnauthorized(t *testing.T) {
	cam := newTestCamera(t)
	c := newTestClient(t, cam, Options{Username: testUser, Password: "wrong"})
	_, err := c.DeviceInformation(context.Background())
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("NotAuthorized fault: %v", err)
	}
	var f *Fault
	if !errors.As(err, &f) || !f.HasSubcode("NotAuthorized") || f.Reason != "Sender not Authorized" {
		t.Fatalf("fault %+v", f)
	}
	noPassword(t, err)
}

func TestHTTP401IsUnauthorized(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		cam := newTestCamera(t)
		cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
			w.Header().Set("WWW-Authenticate", `Basic realm="camera"`)
			w.WriteHeader(status)
			w.Write([]byte("<html><body>401 - Unauthorized</body></html>"))
			return true
		}
		c := newTestClient(t, cam, Options{})
		_, err := c.Profiles(context.Background())
		if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "401 - Unauthorized") || !strings.Contains(err.Error(), cam.host()) {
			t.Fatalf("HTTP %d: %v", status, err)
		}
		noPassword(t, err)
	}
}

func TestDigestAuthRetry(t *testing.T) {
	cam := newTestCamera(t)
	const realm, nonce, opaque = "IP Camera(C1234)", "4e6f6e63652d31", "b3BhcXVl"
	var challenged, accepted int
	var lastNC string
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		p := digestParams(r.Header.Get("Authorization"))
		ha1 := md5hex(testUser + ":" + realm + ":" + testPass)
		ha2 := md5hex("POST:" + p["uri"])
		want := md5hex(ha1 + ":" + nonce + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
		if p["username"] != testUser || p["realm"] != realm || p["nonce"] != nonce || p["opaque"] != opaque ||
			p["qop"] != "auth" || p["uri"] != r.URL.RequestURI() || p["response"] != want || p["nc"] <= lastNC {
			challenged++
			w.Header().Add("WWW-Authenticate", `Basic realm="`+realm+`"`)
			w.Header().Add("WWW-Authenticate", `Digest qop="auth", realm="`+realm+`", nonce="`+nonce+`", opaque="`+opaque+`", algorithm=MD5, stale="FALSE"`)
			w.WriteHeader(http.StatusUnauthorized)
			return true
		}
		lastNC = p["nc"]
		accepted++
		return false
	}
	c := newTestClient(t, cam, Options{})
	ctx := context.Background()
	if _, err := c.DeviceInformation(ctx); err != nil {
		t.Fatal(err)
	}
	if challenged != 1 || accepted != 1 {
		t.Fatalf("challenged %d, accepted %d", challenged, accepted)
	}
	// Later calls answer the known challenge at once.
	if _, err := c.Profiles(ctx); err != nil {
		t.Fatal(err)
	}
	if challenged != 1 || accepted != 2 || lastNC != "00000002" {
		t.Fatalf("challenged %d, accepted %d, nc %s", challenged, accepted, lastNC)
	}
	// A refusal of the digest answer itself ends in ErrUnauthorized.
	c2 := newTestClient(t, cam, Options{Username: testUser, Password: "wrong"})
	_, err := c2.Profiles(ctx)
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong digest: %v", err)
	}
	noPassword(t, err)
}

func TestFaultIsReturnedAsFault(t *testing.T) {
	cam := newTestCamera(t)
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		if env.BodyName.Local != "GetStreamUri" {
			return false
		}
		cam.reply(w, http.StatusBadRequest, "fault_no_profile.xml")
		return true
	}
	c := newTestClient(t, cam, Options{})
	_, err := c.StreamURI(context.Background(), "nope")
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("not a *Fault: %v", err)
	}
	if f.Code != "SOAP-ENV:Sender" || len(f.Subcodes) != 2 || f.Subcodes[1] != "ter:NoProfile" ||
		f.Reason != "The requested profile token ProfileToken does not exist." {
		t.Fatalf("fault %+v", f)
	}
	if !errors.Is(err, &Fault{Code: "env:Sender", Subcodes: []string{"ter:InvalidArgVal", "ter:NoProfile"}}) ||
		errors.Is(err, &Fault{Subcodes: []string{"ter:NotAuthorized"}}) || errors.Is(err, ErrUnauthorized) {
		t.Fatal("errors.Is by fault codes")
	}
	if !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "GetStreamUri") {
		t.Fatalf("message %q", err)
	}
}

func TestNonSOAPAnswerIsNotONVIF(t *testing.T) {
	cam := newTestCamera(t)
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!DOCTYPE html><html><head><title>Router login</title></head><body></body></html>"))
		return true
	}
	c := newTestClient(t, cam, Options{})
	err := c.Connect(context.Background())
	if !errors.Is(err, ErrNotONVIF) {
		t.Fatalf("HTML answer: %v", err)
	}
	// Well-formed XML that is not an envelope.
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		w.Write([]byte(`<?xml version="1.0"?><config><x>1</x></config>`))
		return true
	}
	if _, err := c.Profiles(context.Background()); !errors.Is(err, ErrNotONVIF) {
		t.Fatalf("XML answer: %v", err)
	}
}

func TestOversizedAnswerIsRefused(t *testing.T) {
	cam := newTestCamera(t)
	big := strings.Replace(readTestdata(t, "device_information.xml"), "<tds:HardwareId>88",
		"<tds:HardwareId>"+strings.Repeat("8", 4096), 1)
	cam.answer("GetDeviceInformation", big)
	c := newTestClient(t, cam, Options{MaxBody: 2048})
	_, err := c.DeviceInformation(context.Background())
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized answer: %v", err)
	}
	// Just under the bound is fine.
	c = newTestClient(t, cam, Options{MaxBody: int64(len(big))})
	if _, err := c.DeviceInformation(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNetworkErrorNamesTheHost(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := New("http://"+addr+"/onvif/device_service", Options{Username: testUser, Password: testPass, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Connect(context.Background())
	var opErr *net.OpError
	if !errors.As(err, &opErr) || !strings.Contains(err.Error(), addr) || errors.Is(err, ErrNotONVIF) {
		t.Fatalf("refused connection: %v", err)
	}
	noPassword(t, err)
}

func TestTimeoutBoundsACall(t *testing.T) {
	cam := newTestCamera(t)
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return true
	}
	c := newTestClient(t, cam, Options{Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := c.DeviceInformation(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
}

func TestClockUnknownWhenTheCameraRefusesToTell(t *testing.T) {
	cam := newTestCamera(t)
	cam.intercept = func(w http.ResponseWriter, r *http.Request, env *Envelope) bool {
		if env.BodyName.Local != "GetSystemDateAndTime" {
			return false
		}
		cam.reply(w, http.StatusBadRequest, "fault_not_authorized.xml")
		return true
	}
	c := newTestClient(t, cam, Options{})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.ClockOffset() != 0 {
		t.Fatal(c.ClockOffset())
	}
}
