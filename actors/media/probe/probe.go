// Package probe checks whether a camera answers: an RTSP DESCRIBE with the
// device's credentials, the same request a pull starts with.
package probe

import (
	"context"
	"fmt"
	"github.com/argus-vms/argus/actors/media/camurl"
	"net"
	"net/url"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
)

// Describe returns nil when the camera at rawURL answers DESCRIBE with a
// description. Credentials go in the request, never in the returned error.
func Describe(ctx context.Context, rawURL, username, password string) error {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return fmt.Errorf("bad url: %w", err)
	}
	camurl.Join((*url.URL)(u), username, password)
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	c := gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		DialContext: func(ctx2 context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			return d.DialContext(ctx, network, addr)
		},
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("connect %s: %w", u.Host, err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Describe(u)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("describe: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("describe: %w", ctx.Err())
	}
}
