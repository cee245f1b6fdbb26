package gateway

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// A client that keeps failing to authenticate is answered 429 with
// Retry-After — even with a good key — while others are not; headers
// cannot make it another client.
func TestFailedAuthStormIs429(t *testing.T) {
	s, _ := newTestServer(t, nil)
	h := s.Handler()
	get := func(remote, key string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/devices", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer "+key)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range maxFailedAuth {
		if rec := get("198.51.100.7:4000", "guess-"+strconv.Itoa(i), "X-Forwarded-For", "203.0.113."+strconv.Itoa(i)); rec.Code != 401 {
			t.Fatalf("failure %d: %d", i, rec.Code)
		}
	}
	rec := get("198.51.100.7:4001", "guess-again")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d, Retry-After %q", maxFailedAuth, rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := get("198.51.100.7:4002", testAdminKey); rec.Code != http.StatusTooManyRequests {
		t.Errorf("a good key from the blocked client: %d", rec.Code)
	}
	if rec := get("198.51.100.8:4000", testAdminKey); rec.Code == http.StatusTooManyRequests || rec.Code == 401 {
		t.Errorf("another client: %d", rec.Code)
	}
}
