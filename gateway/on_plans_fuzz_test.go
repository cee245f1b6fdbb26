package gateway

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/argus-vms/argus/events"
	"github.com/labstack/echo/v4"
)

// FuzzPutPlan drives the putPlan handler (no plan actor: an accepted
// request reaches askPlan and answers 503). A refused request is a 4xx
// problem naming a field; an accepted one is a strict JSON object with a
// mode and bounded integers, on a valid channel, with a valid If-Match.
func FuzzPutPlan(f *testing.F) {
	for _, s := range []string{
		`{"mode":"continuous"}`,
		`{"mode":"schedule","timezone":"Europe/Paris","schedule":[{"days":["mon","tue"],"start":"08:00","end":"18:00"}],"segment_seconds":60,"retention_days":30}`,
		`{"mode":"off","segment_seconds":10,"retention_days":3650}`,
		`{"mode":"continuous","segment_seconds":9}`, `{"mode":"continuous","segment_seconds":3601}`,
		`{"mode":"continuous","retention_days":0}`, `{"mode":"continuous","segment_seconds":1e3}`,
		`{"mode":""}`, `{}`, `{"mode":"x","extra":1}`, `{"schedule":{}}`, `{"mode":1}`, `[]`, `null`, ``, `{"":1}`,
	} {
		f.Add([]byte(s), "", "1")
	}
	f.Add([]byte(`{"mode":"continuous"}`), `"3"`, "64")
	f.Add([]byte(`{"mode":"continuous"}`), `W/"3"`, "1")
	f.Add([]byte(`{"mode":"continuous"}`), "", "65")
	f.Add([]byte(`{"mode":"continuous"}`), "", "01")
	f.Fuzz(func(t *testing.T, body []byte, ifMatch, ch string) {
		e := echo.New()
		req := httptest.NewRequest(http.MethodPut, "/v1/devices/cam-1/channels/1/plan", bytes.NewReader(body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		c := e.NewContext(req, httptest.NewRecorder())
		c.SetParamNames("id", "ch")
		c.SetParamValues("cam-1", ch)
		err := (&Server{}).putPlan(c)
		var p *Problem
		if !errors.As(err, &p) {
			t.Fatalf("putPlan answered %v, want a problem", err)
		}
		if p.Status != http.StatusServiceUnavailable {
			wantFieldProblem(t, "plan", p)
			return
		}
		// accepted up to the actor
		n, cerr := strconv.Atoi(ch)
		if cerr != nil || n < 1 || n > events.MaxChannels {
			t.Fatalf("channel %q accepted", ch)
		}
		if _, _, ip := parseIfMatch(req.Header); ip != nil {
			t.Fatalf("If-Match %q accepted", ifMatch)
		}
		var pr planRequest
		if dp := decodeStrict(body, &pr); dp != nil {
			t.Fatalf("body %q accepted: %v", body, dp)
		}
		if pr.Mode == "" {
			t.Fatalf("plan without mode accepted: %q", body)
		}
		if s := pr.SegmentSeconds; s != nil && (*s < 10 || *s > 3600) {
			t.Fatalf("segment_seconds %d accepted", *s)
		}
		if r := pr.RetentionDays; r != nil && (*r < 1 || *r > 3650) {
			t.Fatalf("retention_days %d accepted", *r)
		}
	})
}
