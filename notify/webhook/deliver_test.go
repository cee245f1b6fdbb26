package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// received is one request an endpoint got.
type received struct {
	header http.Header
	body   []byte
}

// endpoint is an httptest server that records requests and answers with
// answer (default 204).
func endpoint(t *testing.T, answer http.HandlerFunc) (*httptest.Server, chan received) {
	t.Helper()
	got := make(chan received, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), b}
		if answer != nil {
			answer(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

var private = NewClient(Options{AllowPrivate: true, Timeout: 2 * time.Second})

func TestDeliverVerifiedByStandardWebhooks(t *testing.T) {
	srv, got := endpoint(t, nil)
	secret := NewSecret()
	body := []byte(`{"id":"e1","type":"alarm.raised","seq":7}`)
	a := private.Deliver(context.Background(), srv.URL+"/hook", secret, "e1", time.Now(), body)
	if !a.OK() || a.Err != nil || a.Status != 204 || a.Retry() || a.Gone() || a.Latency <= 0 {
		t.Fatalf("attempt %+v", a)
	}
	r := <-got
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("User-Agent") != "argus-webhooks/1" ||
		r.header.Get("webhook-id") != "e1" {
		t.Fatalf("headers %v", r.header)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(r.body, r.header); err != nil {
		t.Fatalf("the reference library refuses our delivery: %v", err)
	}
	tampered := []byte(strings.Replace(string(r.body), `"seq":7`, `"seq":8`, 1))
	if err := wh.Verify(tampered, r.header); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Fatalf("tampered body: %v", err)
	}
	other, _ := standardwebhooks.NewWebhook(NewSecret())
	if err := other.Verify(r.body, r.header); err == nil {
		t.Fatal("verified under another secret")
	}
}

func TestDeliverRefusesPrivateTargets(t *testing.T) {
	srv, got := endpoint(t, nil)
	guarded := NewClient(Options{Timeout: 2 * time.Second})
	a := guarded.Deliver(context.Background(), srv.URL, NewSecret(), "e1", time.Now(), []byte(`{}`))
	if a.Err == nil || !errors.Is(a.Err, ErrRefused) || !strings.Contains(a.Err.Error(), "refused") || a.Status != 0 || a.Retry() {
		t.Fatalf("attempt %+v", a)
	}
	// A name is judged by the address actually dialed (Control), not by
	// CheckURL: go past CheckURL as a rebinding name would.
	req, _ := http.NewRequest(http.MethodPost, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), nil)
	if _, err := guarded.http.Do(req); !errors.Is(err, ErrRefused) {
		t.Fatalf("localhost at dial time: %v", err)
	}
	select {
	case <-got:
		t.Fatal("a refused target got a request")
	default:
	}
	if a := private.Deliver(context.Background(), srv.URL, NewSecret(), "e1", time.Now(), []byte(`{}`)); !a.OK() {
		t.Fatalf("with AllowPrivate: %+v", a)
	}
}

func TestDeliverAnswers(t *testing.T) {
	var status atomic.Int32
	var retryAfter atomic.Value
	retryAfter.Store("")
	srv, _ := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		if v := retryAfter.Load().(string); v != "" {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(int(status.Load()))
	})
	for _, c := range []struct {
		status           int
		retryAfter       string
		ok, gone, retry  bool
		wantAfterAtLeast time.Duration
		wantAfterAtMost  time.Duration
	}{
		{status: 200, ok: true},
		{status: 410, gone: true},
		{status: 400},
		{status: 401},
		{status: 404},
		{status: 408, retry: true},
		{status: 429, retry: true, retryAfter: "7", wantAfterAtLeast: 7 * time.Second, wantAfterAtMost: 7 * time.Second},
		{status: 503, retry: true, retryAfter: time.Now().Add(time.Minute).UTC().Format(http.TimeFormat),
			wantAfterAtLeast: 58 * time.Second, wantAfterAtMost: 60 * time.Second},
		{status: 500, retry: true},
	} {
		status.Store(int32(c.status))
		retryAfter.Store(c.retryAfter)
		a := private.Deliver(context.Background(), srv.URL, NewSecret(), "e1", time.Now(), []byte(`{}`))
		if a.Err != nil || a.Status != c.status || a.OK() != c.ok || a.Gone() != c.gone || a.Retry() != c.retry ||
			a.RetryAfter < c.wantAfterAtLeast || a.RetryAfter > c.wantAfterAtMost {
			t.Errorf("status %d: %+v ok=%v gone=%v retry=%v", c.status, a, a.OK(), a.Gone(), a.Retry())
		}
	}
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	target, got := endpoint(t, nil)
	srv, _ := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	a := private.Deliver(context.Background(), srv.URL, NewSecret(), "e1", time.Now(), []byte(`{}`))
	if a.Err != nil || a.Status != http.StatusTemporaryRedirect || a.OK() || a.Retry() {
		t.Fatalf("attempt %+v", a)
	}
	select {
	case <-got:
		t.Fatal("the redirect was followed")
	default:
	}
}

func TestDeliverTimeoutAndLargeAnswer(t *testing.T) {
	release := make(chan struct{})
	slow, _ := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := NewClient(Options{AllowPrivate: true, Timeout: 200 * time.Millisecond, UserAgent: "test/1"})
	a := c.Deliver(context.Background(), slow.URL, NewSecret(), "e1", time.Now(), []byte(`{}`))
	if a.Err == nil || a.Status != 0 || !a.Retry() || a.Latency > 2*time.Second {
		t.Fatalf("slow endpoint: %+v", a)
	}

	big, got := endpoint(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.Write(make([]byte, 8<<20)) // the client stops reading at 64 KiB
	})
	a = c.Deliver(context.Background(), big.URL, NewSecret(), "e1", time.Now(), []byte(`{}`))
	if !a.OK() {
		t.Fatalf("large answer: %+v", a)
	}
	if r := <-got; r.header.Get("User-Agent") != "test/1" {
		t.Fatalf("user agent %q", r.header.Get("User-Agent"))
	}
}

func TestDeliverRefusesBadInput(t *testing.T) {
	for name, a := range map[string]Attempt{
		"bad secret": private.Deliver(context.Background(), "http://127.0.0.1:9/", "nope", "e1", time.Now(), nil),
		"bad url":    private.Deliver(context.Background(), "ftp://x/", NewSecret(), "e1", time.Now(), nil),
	} {
		if a.Err == nil || a.Retry() {
			t.Errorf("%s: %+v", name, a)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                                 0,
		"0":                                0,
		"120":                              2 * time.Minute,
		" 5 ":                              5 * time.Second,
		"-3":                               0,
		"soon":                             0,
		"99999999999999999999":             0, // beyond uint64: malformed
		"9999999999":                       24 * time.Hour,
		"Thu, 02 Jan 2025 03:05:05 GMT":    time.Minute,
		"Thu, 02 Jan 2025 03:00:00 GMT":    0, // past
		"Thursday, 02-Jan-25 03:04:35 GMT": 30 * time.Second,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
