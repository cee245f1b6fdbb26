package onvifsrv

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	s := start(t, Options{Username: testUser, Password: testPass})
	info := `<tds:GetDeviceInformation/>`
	now := time.Now()

	if r := post(t, s.DeviceURL(), soapDoc(digestHeader(testUser, testPass, now), info)); r.status != 200 {
		t.Fatalf("valid digest: %d %s", r.status, r.raw)
	}
	if r := post(t, s.DeviceURL(), soapDoc(textHeader(testUser, testPass), info)); r.status != 200 {
		t.Fatalf("valid PasswordText: %d %s", r.status, r.raw)
	}

	refused := map[string]string{
		"no header":      "",
		"wrong password": digestHeader(testUser, "nope", now),
		"wrong user":     digestHeader("root", testPass, now),
		"wrong text":     textHeader(testUser, "nope"),
		"stale created":  digestHeader(testUser, testPass, now.Add(-MaxClockSkew-10*time.Second)),
		"future created": digestHeader(testUser, testPass, now.Add(MaxClockSkew+10*time.Second)),
		"digest without nonce": regexp.MustCompile(`<wsse:Nonce.*</wsse:Nonce>`).
			ReplaceAllString(digestHeader(testUser, testPass, now), ""),
		"security in another namespace": strings.Replace(textHeader(testUser, testPass),
			`wssecurity-secext-1.0.xsd`, `other.xsd`, 1),
	}
	for name, header := range refused {
		t.Run(name, func(t *testing.T) {
			expectFault(t, post(t, s.DeviceURL(), soapDoc(header, info)), 400, "Sender/NotAuthorized")
		})
	}

	t.Run("replayed nonce", func(t *testing.T) {
		h := digestHeader(testUser, testPass, time.Now())
		if r := post(t, s.DeviceURL(), soapDoc(h, info)); r.status != 200 {
			t.Fatalf("first use: %d %s", r.status, r.raw)
		}
		expectFault(t, post(t, s.DeviceURL(), soapDoc(h, info)), 400, "Sender/NotAuthorized")
	})

	// ONVIF's pre-authentication calls work without a token; GetCapabilities
	// is not one of them.
	for _, body := range []string{
		`<tds:GetSystemDateAndTime/>`, `<tds:GetServices><tds:IncludeCapability>true</tds:IncludeCapability></tds:GetServices>`,
		`<tds:GetWsdlUrl/>`, `<tds:GetEndpointReference/>`, `<tds:GetServiceCapabilities/>`,
		`<trt:GetServiceCapabilities/>`, `<tev:GetServiceCapabilities/>`,
	} {
		mustCall(t, s, "", body)
	}
	for _, body := range []string{`<tds:GetCapabilities/>`, `<tds:GetScopes/>`, `<trt:GetProfiles/>`, `<tev:CreatePullPointSubscription/>`, `<tds:NoSuchCall/>`} {
		expectFault(t, post(t, s.DeviceURL(), soapDoc("", body)), 400, "Sender/NotAuthorized")
	}
	// A bad token on a pre-auth call is ignored, as the call needs none.
	mustCall(t, s, textHeader(testUser, "nope"), `<tds:GetSystemDateAndTime/>`)
}

func TestUnauthorized401(t *testing.T) {
	s := start(t, Options{Username: testUser, Password: testPass, Unauthorized401: true})
	r := post(t, s.DeviceURL(), soapDoc("", `<tds:GetDeviceInformation/>`))
	expectFault(t, r, 401, "Sender/NotAuthorized")
	mustCall(t, s, auth(s), `<tds:GetDeviceInformation/>`)
}

// With the camera's clock off by an hour, Created must follow the camera's
// clock (as GetSystemDateAndTime shows it), not ours.
func TestClockOffsetAuthentication(t *testing.T) {
	s := start(t, Options{Username: testUser, Password: testPass, ClockOffset: time.Hour})
	expectFault(t, post(t, s.DeviceURL(), soapDoc(digestHeader(testUser, testPass, time.Now()), `<tds:GetScopes/>`)), 400, "Sender/NotAuthorized")
	mustCall(t, s, digestHeader(testUser, testPass, time.Now().Add(time.Hour)), `<tds:GetScopes/>`)
}

func TestNoncesBounded(t *testing.T) {
	now := time.Now()
	a := newAuthenticator("u", "p", func() time.Time { return now })
	for i := range 3 * maxNonces {
		n := "nonce-" + itoa(i)
		if !a.fresh(n, now) {
			t.Fatal("fresh nonce refused")
		}
		if a.fresh(n, now) {
			t.Fatal("replayed nonce accepted")
		}
		if len(a.nonces) > maxNonces {
			t.Fatalf("%d nonces kept", len(a.nonces))
		}
	}
	// Once its Created is too old to pass anyway, a nonce is forgotten.
	now = now.Add(MaxClockSkew + time.Second)
	if !a.fresh("nonce-0", now) {
		t.Fatal("expired nonce still remembered")
	}
}
