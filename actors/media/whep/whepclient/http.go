package whepclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// post sends the offer and returns the answer and the session's absolute
// Location (RFC 9725 section 4.2: 201 Created with a Location header).
func (c *Client) post(ctx context.Context, endpoint, offer string) (answer, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return "", "", fmt.Errorf("whepclient: %w", err)
	}
	c.headers(req)
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Accept", "application/sdp")
	resp, err := c.opts.http.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("whepclient: POST offer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", "", fmt.Errorf("whepclient: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return "", "", &StatusError{Method: http.MethodPost, Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", "", fmt.Errorf("whepclient: 201 without a Location")
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return "", "", fmt.Errorf("whepclient: endpoint: %w", err)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return "", "", fmt.Errorf("whepclient: Location %q: %w", loc, err)
	}
	return string(body), base.ResolveReference(ref).String(), nil
}

// patch sends a trickle-ice-sdpfrag.
func (c *Client) patch(ctx context.Context, frag string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.location, strings.NewReader(frag))
	if err != nil {
		return fmt.Errorf("whepclient: %w", err)
	}
	c.headers(req)
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	// RFC 9725 section 4.3.1: If-Match "*" applies the fragment to the
	// current ICE session whatever its entity tag.
	req.Header.Set("If-Match", "*")
	return c.do(req)
}

// del ends the session on the server.
func (c *Client) del(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.location, nil)
	if err != nil {
		return fmt.Errorf("whepclient: %w", err)
	}
	c.headers(req)
	return c.do(req)
}

func (c *Client) do(req *http.Request) error {
	resp, err := c.opts.http.Do(req)
	if err != nil {
		return fmt.Errorf("whepclient: %s: %w", req.Method, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return &StatusError{Method: req.Method, Code: resp.StatusCode, Body: string(bytes.TrimSpace(body))}
	}
	return nil
}

func (c *Client) headers(req *http.Request) {
	for k, vs := range c.opts.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
}

// StatusError is a WHEP request answered with an unexpected status.
type StatusError struct {
	Method string
	Code   int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("whepclient: %s: HTTP %d: %s", e.Method, e.Code, e.Body)
}
