package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const eventsUsage = `Usage:
  argus events replay --api URL --key KEY [--after-seq N] [filters]   the log so far, then exit
  argus events tail   --api URL --key KEY [--after-seq N] [filters]   the log, then live, until interrupted

Filters: --type T (e.g. device.registered) --kind device|stream|plan
         --aggregate ID (needs --kind) --from/--to RFC 3339 event time.
Prints one JSON event per line: {"seq","time","type","kind","aggregate","version","node","data"}.
`

// runEvents is `argus events tail|replay`: reads the event log through the
// HTTP API (/v1/events and /v1/events/stream) and prints JSON lines.
func runEvents(args []string) error {
	sub, err := subcommand("events", eventsUsage, args, "tail", "replay")
	if err != nil {
		return err
	}
	f := newToolFlags("events")
	api := f.String("api", "", "base URL of the HTTP API, e.g. http://127.0.0.1:8080")
	key := f.String("key", "", "API key (viewer or above)")
	afterSeq := f.String("after-seq", "0", "start after this event sequence")
	typ := f.String("type", "", "only events of this type, e.g. device.registered")
	kind := f.String("kind", "", "only events of this aggregate kind: device|stream|plan")
	aggregate := f.String("aggregate", "", "only events of this aggregate id (needs --kind)")
	from := f.String("from", "", "only events at or after this RFC 3339 time")
	to := f.String("to", "", "only events before this RFC 3339 time")
	pageSize := f.Int("page-size", 1000, "replay: events per request (1..1000)")
	f.Usage = func() {
		fmt.Fprint(f.Output(), eventsUsage+"\nFlags:\n")
		f.PrintDefaults()
	}
	if err := f.Parse(args[1:]); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("events: unexpected arguments %q", f.Args())
	}
	if *api == "" {
		return errors.New("events: --api is required")
	}
	if *key == "" {
		return errors.New("events: --key is required")
	}
	after, err := strconv.ParseUint(*afterSeq, 10, 64)
	if err != nil {
		return fmt.Errorf("events: --after-seq %q is not a sequence number", *afterSeq)
	}
	if *pageSize < 1 || *pageSize > 1000 {
		return errors.New("events: --page-size must be 1..1000")
	}
	q := url.Values{}
	for k, v := range map[string]string{"type": *typ, "kind": *kind, "aggregate": *aggregate, "from": *from, "to": *to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	c := &eventsClient{base: strings.TrimRight(*api, "/"), key: *key, out: bufio.NewWriter(os.Stdout)}
	defer c.out.Flush()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if sub == "replay" {
		q.Set("limit", strconv.Itoa(*pageSize))
		return c.replay(ctx, q, after)
	}
	return c.tail(ctx, q, after)
}

type eventsClient struct {
	base, key string
	out       *bufio.Writer
	http      http.Client
}

// apiError reads a problem+json answer into an error.
func apiError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var p struct {
		Detail string `json:"detail"`
		Field  string `json:"field"`
	}
	if json.Unmarshal(b, &p) == nil && p.Detail != "" {
		if p.Field != "" {
			return fmt.Errorf("events: %s: %s (%s)", resp.Status, p.Detail, p.Field)
		}
		return fmt.Errorf("events: %s: %s", resp.Status, p.Detail)
	}
	return fmt.Errorf("events: %s: %s", resp.Status, bytes.TrimSpace(b))
}

func (c *eventsClient) request(ctx context.Context, path string, q url.Values, hdr ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.http.Do(req)
}

// printItem writes one event as a compact JSON line.
func (c *eventsClient) printItem(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return fmt.Errorf("events: bad event JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := c.out.Write(buf.Bytes())
	return err
}

// replay pages through /v1/events until next_after_seq stops moving.
func (c *eventsClient) replay(ctx context.Context, q url.Values, after uint64) error {
	for {
		q.Set("after_seq", strconv.FormatUint(after, 10))
		page, err := c.page(ctx, q)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if err := c.printItem(it); err != nil {
				return err
			}
		}
		if err := c.out.Flush(); err != nil {
			return err
		}
		if page.Next <= after || len(page.Items) == 0 {
			return nil
		}
		after = page.Next
	}
}

type eventsPage struct {
	Items []json.RawMessage `json:"items"`
	Next  uint64            `json:"next_after_seq"`
}

// page fetches one page, retrying 503s and transport errors for a while.
func (c *eventsClient) page(ctx context.Context, q url.Values) (eventsPage, error) {
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return eventsPage{}, ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		resp, err := c.request(rctx, "/v1/events", q)
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return eventsPage{}, ctx.Err()
			}
			lastErr = err
			continue
		}
		var page eventsPage
		switch {
		case resp.StatusCode == http.StatusOK:
			err = json.NewDecoder(resp.Body).Decode(&page)
			if err != nil {
				err = fmt.Errorf("events: bad page: %w", err)
			}
		case resp.StatusCode == http.StatusServiceUnavailable:
			lastErr = apiError(resp)
			resp.Body.Close()
			cancel()
			continue
		default:
			err = apiError(resp)
		}
		resp.Body.Close()
		cancel()
		return page, err
	}
	return eventsPage{}, lastErr
}

// tail follows /v1/events/stream, reconnecting with Last-Event-ID after a
// dropped connection, until ctx ends (then it returns nil).
func (c *eventsClient) tail(ctx context.Context, q url.Values, after uint64) error {
	backoff := 200 * time.Millisecond
	for {
		q.Set("after_seq", strconv.FormatUint(after, 10))
		resp, err := c.request(ctx, "/v1/events/stream", q, "Accept", "text/event-stream", "Last-Event-ID", strconv.FormatUint(after, 10))
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				backoff = 200 * time.Millisecond
				err = readSSE(resp.Body, func(id, data string) error {
					if id != "" {
						if n, perr := strconv.ParseUint(id, 10, 64); perr == nil {
							after = n
						}
					}
					if data == "" {
						return nil
					}
					if err := c.printItem([]byte(data)); err != nil {
						return err
					}
					return c.out.Flush()
				})
				resp.Body.Close()
			} else {
				err = apiError(resp)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode < 500 {
					return err
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil && errors.Is(err, syscall.EPIPE) {
			return nil // stdout closed
		}
		fmt.Fprintf(os.Stderr, "argus events: stream ended (%v); reconnecting after seq %d\n", err, after)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// readSSE parses a text/event-stream, calling fn once per dispatched event
// with its id and data (data lines joined by '\n'). Comments are skipped.
func readSSE(r io.Reader, fn func(id, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var id string
	var data []string
	hasData := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData || id != "" {
				if err := fn(id, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			id, data, hasData = "", data[:0], false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "data":
			data = append(data, value)
			hasData = true
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}
