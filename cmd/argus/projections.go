package main

import (
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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/argus-vms/argus/gateway"
	"github.com/argus-vms/argus/projections"
)

const projectionsUsage = `Usage:
  argus projections status  --api URL --key KEY          every projector: table, lag, last seq, rebuild
  argus projections rebuild --api URL --key KEY [name]   rebuild one projector (default: all) from
                                                         sequence 1 into fresh tables, then swap them in

Projectors: events devices recordings device_status stream_sessions (or all).
Needs an admin key. rebuild waits until the rebuild is done, showing its progress.
`

// projectionsAdmin is the gateway's view of the projections service (nil
// interface without ClickHouse, not a typed nil).
func projectionsAdmin(s *projections.Service) gateway.Projections {
	if s == nil {
		return nil
	}
	return s
}

// runProjections is `argus projections status|rebuild`: talks to the HTTP
// API (GET /v1/projections, POST /v1/projections/{name}/rebuild).
func runProjections(args []string) error {
	sub, err := subcommand("projections", projectionsUsage, args, "status", "rebuild")
	if err != nil {
		return err
	}
	f := newToolFlags("projections")
	api := f.String("api", "", "base URL of the HTTP API, e.g. http://127.0.0.1:8080")
	key := f.String("key", "", "API key (admin)")
	f.Usage = func() {
		fmt.Fprint(f.Output(), projectionsUsage+"\nFlags:\n")
		f.PrintDefaults()
	}
	// The projector name may come before or after the flags.
	rest := args[1:]
	var name string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := f.Parse(rest); err != nil {
		return err
	}
	if f.NArg() > 0 && name == "" {
		name = f.Arg(0)
	} else if f.NArg() > 0 {
		return fmt.Errorf("projections: unexpected arguments %q", f.Args())
	}
	if *api == "" {
		return errors.New("projections: --api is required")
	}
	if *key == "" {
		return errors.New("projections: --key is required")
	}
	c := &projClient{base: strings.TrimRight(*api, "/"), key: *key}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch sub {
	case "status":
		if name != "" {
			return fmt.Errorf("projections: status takes no projector name")
		}
		items, err := c.status(ctx)
		if err != nil {
			return err
		}
		printProjections(os.Stdout, items)
		return nil
	default:
		if name == "" {
			name = projections.RebuildAll
		}
		return c.rebuild(ctx, name, isTerminal(os.Stdout))
	}
}

type projClient struct {
	base, key string
	http      http.Client
}

func (c *projClient) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	return c.http.Do(req)
}

// projError reads a problem+json answer into an error.
func projError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var p struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal(b, &p) == nil && p.Detail != "" {
		return fmt.Errorf("projections: %s: %s", resp.Status, p.Detail)
	}
	return fmt.Errorf("projections: %s: %s", resp.Status, bytes.TrimSpace(b))
}

func (c *projClient) status(ctx context.Context) ([]projections.ProjectorStatus, error) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := c.do(rctx, http.MethodGet, "/v1/projections")
	if err != nil {
		return nil, fmt.Errorf("projections: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, projError(resp)
	}
	var page struct {
		Items []projections.ProjectorStatus `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("projections: bad status: %w", err)
	}
	return page.Items, nil
}

func printProjections(w io.Writer, items []projections.ProjectorStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTABLES\tLAG\tLAST SEQ\tREBUILD")
	for _, p := range items {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", p.Name, strings.Join(p.Tables, ","), p.Lag, p.LastSeq, rebuildSummary(p.Rebuild))
	}
	tw.Flush()
}

func rebuildSummary(r *projections.RebuildProgress) string {
	if r == nil {
		return "-"
	}
	switch r.State {
	case projections.RebuildRunning:
		return fmt.Sprintf("running (%s) %d/%d ev %.0f ev/s ETA %s", r.Phase, r.Done, r.Total, r.EventsPerSec, eta(r.ETASeconds))
	case projections.RebuildFailed:
		return "failed: " + r.Error
	}
	at := ""
	if r.FinishedAt != nil {
		at = " " + r.FinishedAt.Local().Format(time.DateTime)
	}
	return fmt.Sprintf("done%s (%d ev, %.0f ev/s)", at, r.Done, r.EventsPerSec)
}

func eta(sec float64) string {
	return (time.Duration(sec+0.5) * time.Second).String()
}

// progressBar is `[#####     ] 52% 12345/23456 ev 8200 ev/s ETA 1s`.
func progressBar(r *projections.RebuildProgress, width int) string {
	frac := 0.0
	if r.Total > 0 {
		frac = min(float64(r.Done)/float64(r.Total), 1)
	}
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d ev %.0f ev/s ETA %s", strings.Repeat("#", n), strings.Repeat(" ", width-n),
		frac*100, r.Done, r.Total, r.EventsPerSec, eta(r.ETASeconds))
}

// rebuild starts the rebuild and follows it until done: a progress bar on
// a terminal, one line per second otherwise.
func (c *projClient) rebuild(ctx context.Context, name string, tty bool) error {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	resp, err := c.do(rctx, http.MethodPost, "/v1/projections/"+url.PathEscape(name)+"/rebuild")
	if err != nil {
		cancel()
		return fmt.Errorf("projections: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		err := projError(resp)
		resp.Body.Close()
		cancel()
		return err
	}
	resp.Body.Close()
	cancel()
	fmt.Printf("rebuilding %s\n", name)

	tick := time.NewTicker(time.Second)
	if tty {
		tick.Reset(200 * time.Millisecond)
	}
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Println()
			}
			return errors.New("projections: stopped following; the rebuild goes on (see status)")
		case <-tick.C:
		}
		items, err := c.status(ctx)
		if err != nil {
			return err
		}
		// The projectors rebuilt share one progress; take the first that
		// matches.
		var r *projections.RebuildProgress
		for _, p := range items {
			if p.Rebuild != nil && (name == projections.RebuildAll || p.Name == name) {
				r = p.Rebuild
				break
			}
		}
		if r == nil {
			continue
		}
		line := progressBar(r, 30)
		if r.State == projections.RebuildRunning && r.Phase != "replay" {
			line += " (" + r.Phase + ")"
		}
		if tty {
			fmt.Printf("\r%s\x1b[K", line)
		} else {
			fmt.Println(line)
		}
		switch r.State {
		case projections.RebuildDone:
			if tty {
				fmt.Println()
			}
			fmt.Printf("done: %d events in %s\n", r.Done, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
			return nil
		case projections.RebuildFailed:
			if tty {
				fmt.Println()
			}
			return fmt.Errorf("projections: rebuild failed: %s", r.Error)
		}
	}
}

// isTerminal tells whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
