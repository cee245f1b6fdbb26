package snapshot

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/argus-vms/argus/actors/media/httpauth"
)

// maxDrain is how much of an unwanted answer is read to reuse its
// connection.
const maxDrain = 64 << 10

// fetch GETs a camera's snapshot URL, answering its 401 challenge when
// there are credentials, and returns the JPEG.
func (g *Grabber) fetch(ctx context.Context, rawURL, username, password string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// not err: url.Parse quotes the URL, password included
		return nil, fmt.Errorf("snapshot: %s is not an http(s) URL", redact(rawURL))
	}
	where := "snapshot: GET " + u.Redacted()

	resp, err := g.get(ctx, u, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if resp.StatusCode == http.StatusUnauthorized && username != "" {
		// answer for where redirects led, as the challenge came from there
		target := resp.Request.URL
		auth := httpauth.NewAuthorizer(username, password, httpauth.DigestOrBasic)
		ok := auth.Challenge(resp.Header)
		discard(resp)
		if !ok {
			return nil, fmt.Errorf("%s: %w (no Digest or Basic challenge to answer)", where, &StatusError{Code: resp.StatusCode})
		}
		authz, _ := auth.Header(http.MethodGet, target.RequestURI())
		if resp, err = g.get(ctx, target, authz); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	defer discard(resp)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %w", where, &StatusError{Code: resp.StatusCode})
	}
	if resp.ContentLength > g.o.MaxBytes {
		return nil, fmt.Errorf("%s: %d bytes: %w", where, resp.ContentLength, ErrTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, g.o.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if int64(len(body)) > g.o.MaxBytes {
		return nil, fmt.Errorf("%s: over %d bytes: %w", where, g.o.MaxBytes, ErrTooLarge)
	}
	// The bytes decide, not Content-Type: cameras label JPEGs oddly
	// (image/jpg, application/octet-stream), and an error page may come
	// labelled image/jpeg.
	if !isJPEG(body) {
		return nil, fmt.Errorf("%s: %d bytes of %q: %w", where, len(body), resp.Header.Get("Content-Type"), ErrNotJPEG)
	}
	return body, nil
}

func (g *Grabber) get(ctx context.Context, u *url.URL, authz string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "image/jpeg")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return g.o.HTTP.Do(req) // its errors quote the URL without its password
}

// discard reads a little of an answer's body, so that its connection can
// serve the next request, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	resp.Body.Close()
}

// redact drops a URL's password for error messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}
