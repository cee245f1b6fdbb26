package onvif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/argus-vms/argus/actors/media/httpauth"
)

// Options configure a Client.
type Options struct {
	Username, Password string
	// HTTP sends the requests; nil means a client of its own. Each call is
	// bounded by Timeout through its context, not by HTTP.Timeout, because
	// PullMessages waits longer on purpose.
	HTTP *http.Client
	// Timeout bounds each call; 0 means 5 s.
	Timeout time.Duration
	// MaxBody bounds the answers read; 0 means 1 MiB.
	MaxBody int64
}

const (
	defaultTimeout = 5 * time.Second
	defaultMaxBody = 1 << 20
)

// Client speaks to one camera's ONVIF services. It is safe for concurrent use.
type Client struct {
	device *url.URL
	opts   Options
	http   *http.Client
	// auth answers the camera's HTTP Digest challenge. Never Basic, which
	// would send the password in the clear (as WS-Security never does).
	auth *httpauth.Authorizer

	mu       sync.Mutex
	offset   time.Duration // camera clock minus ours
	services services
}

// services are the XAddrs found by Connect; empty ones mean the device URL.
type services struct {
	media, ptz, events string
	hasPTZ             bool
}

// New returns a client of the device service at deviceURL
// (http://host[:port]/onvif/device_service). Credentials in the URL are
// taken as Username and Password unless Options has them, and are never
// kept in the URL.
func New(deviceURL string, o Options) (*Client, error) {
	u, err := url.Parse(deviceURL)
	if err != nil {
		// Not err itself: *url.Error quotes the URL, password and all.
		return nil, fmt.Errorf("onvif: device URL: %w", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("onvif: device URL scheme %q: want http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("onvif: device URL has no host")
	}
	if u.User != nil {
		if o.Username == "" {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		u.User = nil
	}
	if u.Path == "" {
		u.Path = "/onvif/device_service"
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = defaultMaxBody
	}
	hc := o.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{device: u, opts: o, http: hc, auth: httpauth.NewAuthorizer(o.Username, o.Password, httpauth.DigestOnly)}, nil
}

// DeviceURL is the device service's URL, without credentials.
func (c *Client) DeviceURL() string { return c.device.String() }

// ClockOffset is the camera's clock minus ours, measured by Connect.
func (c *Client) ClockOffset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// request is one SOAP call.
type request struct {
	endpoint string // "" = the device service
	action   string
	body     any
	// anonymous calls carry no UsernameToken (GetSystemDateAndTime).
	anonymous bool
	// addressing adds WS-Addressing Action/To/MessageID and extra header
	// blocks (a subscription's reference parameters).
	addressing bool
	extra      []byte
	// wait extends the call's deadline beyond Timeout (PullMessages).
	wait time.Duration
}

// call sends r and decodes the answer's body into out (nil: ignore it).
func (c *Client) call(ctx context.Context, r request, out any) error {
	env, err := c.roundTrip(ctx, r)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := env.DecodeBody(out); err != nil {
		return c.wrap(r, err)
	}
	return nil
}

// roundTrip sends r (again with Digest auth when the camera asks for it)
// and returns the parsed answer, or the camera's fault as a *Fault error.
func (c *Client) roundTrip(ctx context.Context, r request) (*Envelope, error) {
	if r.endpoint == "" {
		r.endpoint = c.device.String()
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout+r.wait)
	defer cancel()
	for attempt := 0; ; attempt++ {
		resp, err := c.post(ctx, r)
		if err != nil {
			return nil, c.wrap(r, err)
		}
		doc, readErr := readBounded(resp.Body, c.opts.MaxBody)
		resp.Body.Close()
		if readErr != nil {
			return nil, c.wrap(r, readErr)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && c.opts.Username != "" && c.auth.Challenge(resp.Header) {
			continue
		}
		return c.answer(r, resp, doc)
	}
}

// answer turns an HTTP answer into an envelope or an error.
func (c *Client) answer(r request, resp *http.Response, doc []byte) (*Envelope, error) {
	env, parseErr := ParseEnvelope(doc)
	var fault *Fault
	if parseErr == nil {
		fault = env.Fault()
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if fault != nil {
			return nil, c.wrap(r, fmt.Errorf("%w: HTTP %d: %w", ErrUnauthorized, resp.StatusCode, fault))
		}
		return nil, c.wrap(r, fmt.Errorf("%w: HTTP %d %s", ErrUnauthorized, resp.StatusCode, snippet(doc)))
	case fault != nil:
		return nil, c.wrap(r, fault)
	case parseErr != nil:
		return nil, c.wrap(r, fmt.Errorf("HTTP %d: %w", resp.StatusCode, parseErr))
	case resp.StatusCode/100 != 2:
		return nil, c.wrap(r, fmt.Errorf("HTTP %d without a fault", resp.StatusCode))
	}
	return env, nil
}

// post sends one attempt of r.
func (c *Client) post(ctx context.Context, r request) (*http.Response, error) {
	h := &Header{Extra: r.extra}
	if r.addressing {
		h.Action, h.To, h.MessageID = r.action, r.endpoint, "urn:uuid:"+newUUID()
	}
	if !r.anonymous && c.opts.Username != "" {
		tok, err := NewUsernameToken(c.opts.Username, c.opts.Password, time.Now().Add(c.ClockOffset()))
		if err != nil {
			return nil, err
		}
		h.Security = &Security{UsernameToken: tok}
	}
	body, err := MarshalEnvelope(h, r.body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ContentType(r.action))
	if readOnly(r.action) {
		// A camera that rebooted closed our kept-alive connection: net/http
		// sends an idempotent request again on a new one instead of failing
		// it with EOF, and it treats a request with this key as idempotent
		// (nil: the header itself is not sent).
		req.Header["Idempotency-Key"] = nil
	}
	if !r.anonymous && c.opts.Username != "" {
		if auth, ok := c.auth.Header(http.MethodPost, req.URL.RequestURI()); ok {
			req.Header.Set("Authorization", auth)
		}
	}
	return c.http.Do(req)
}

// ContentType is SOAP 1.2's media type with the action.
func ContentType(action string) string {
	return fmt.Sprintf(`application/soap+xml; charset=utf-8; action="%s"`, action)
}

// wrap names the camera and the operation. It never sees the password:
// URLs carry no credentials and digests are not errors.
func (c *Client) wrap(r request, err error) error {
	op := r.action
	if i := strings.LastIndexByte(op, '/'); i >= 0 {
		op = op[i+1:]
	}
	host := c.device.Host
	if u, perr := url.Parse(r.endpoint); perr == nil && u.Host != "" {
		host = u.Host
	}
	return fmt.Errorf("onvif %s %s: %w", host, op, err)
}

// snippet is a short printable start of an answer, for errors.
func snippet(doc []byte) string {
	const show = 120
	s := strings.Join(strings.Fields(string(doc)), " ")
	if len(s) > show {
		s = s[:show] + "…"
	}
	if s == "" {
		return "(empty answer)"
	}
	return fmt.Sprintf("%q", s)
}

// readOnly says whether an action only reads (Get…): safe to send again.
func readOnly(action string) bool {
	op := action[strings.LastIndex(action, "/")+1:]
	return strings.HasPrefix(op, "Get")
}
