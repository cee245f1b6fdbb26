package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// maxAnswer is how much of an answer is read (and discarded): enough to
// let the connection be reused after a small answer, never a large one.
const maxAnswer = 64 << 10

// Options configure a Client.
type Options struct {
	AllowPrivate bool          // --webhook-allow-private: allow loopback, private and link-local targets
	Timeout      time.Duration // per attempt, default 10 s
	UserAgent    string        // default "argus-webhooks/1"
}

// Client delivers webhooks through an *http.Client that refuses internal
// targets at connect time, uses no proxy (a proxy would dial on our
// behalf, past the guard) and follows no redirects.
type Client struct {
	http         *http.Client
	allowPrivate bool
	timeout      time.Duration
	userAgent    string
}

// NewClient returns a Client; it is safe for concurrent use.
func NewClient(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.UserAgent == "" {
		o.UserAgent = "argus-webhooks/1"
	}
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	if !o.AllowPrivate {
		d.Control = dialControl
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
	}
	return &Client{
		http: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a 3xx is the answer
			},
		},
		allowPrivate: o.AllowPrivate,
		timeout:      o.Timeout,
		userAgent:    o.UserAgent,
	}
}

// Deliver POSTs body (application/json) to url, signed with secret, with
// headers webhook-id (id: the same on every attempt of one event, so the
// receiver can drop duplicates), webhook-timestamp (ts in unix seconds; the
// time of this attempt, receivers refuse old ones) and webhook-signature. It
// never follows redirects and reads at most 64 KiB of the answer.
func (c *Client) Deliver(ctx context.Context, url, secret, id string, ts time.Time, body []byte) Attempt {
	start := time.Now()
	fail := func(err error) Attempt { return Attempt{Latency: time.Since(start), Err: err} }
	// Checked again on every attempt: the URL may predate a stricter rule.
	if err := CheckURL(url, c.allowPrivate); err != nil {
		return fail(invalid{err})
	}
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		return fail(invalid{err})
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fail(fmt.Errorf("webhook: %w", err))
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", c.userAgent)
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)

	resp, err := c.http.Do(req)
	if err != nil {
		return fail(fmt.Errorf("webhook: %w", err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	return Attempt{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Latency:    time.Since(start),
	}
}

// invalid marks a delivery that could not be made as asked (bad URL or
// secret): another attempt would fail the same way.
type invalid struct{ error }

func (e invalid) Unwrap() error { return e.error }

// final reports whether err would recur on every attempt: a refused target
// or an invalid delivery.
func final(err error) bool {
	var inv invalid
	return errors.Is(err, ErrRefused) || errors.As(err, &inv)
}
