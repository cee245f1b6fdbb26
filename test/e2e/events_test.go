package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

type eventItemJSON struct {
	Seq       uint64          `json:"seq"`
	Time      string          `json:"time"`
	Type      string          `json:"type"`
	Kind      string          `json:"kind"`
	Aggregate string          `json:"aggregate"`
	Version   uint64          `json:"version"`
	Node      string          `json:"node"`
	Data      json.RawMessage `json:"data"`
}

type eventPageJSON struct {
	Items []json.RawMessage `json:"items"`
	Next  *uint64           `json:"next_after_seq"`
}

// replayAll pages through /v1/events with query q (no after_seq) and
// returns every item as compact JSON, checking the paging invariants.
func replayAll(t *testing.T, n *testenv.Node, q string) []json.RawMessage {
	t.Helper()
	var all []json.RawMessage
	var after uint64
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("replay does not end")
		}
		path := "/v1/events?after_seq=" + strconv.FormatUint(after, 10)
		if q != "" {
			path += "&" + q
		}
		st, _, body := n.Do("GET", path, "", "")
		if st != 200 {
			t.Fatalf("GET %s: %d %s", path, st, body)
		}
		p := decode[eventPageJSON](t, body)
		if p.Next == nil || p.Items == nil {
			t.Fatalf("GET %s: page without items or next_after_seq: %s", path, body)
		}
		if len(p.Items) == 0 {
			if *p.Next != after {
				t.Fatalf("GET %s: empty page moved next_after_seq to %d", path, *p.Next)
			}
			return all
		}
		last := decode[eventItemJSON](t, p.Items[len(p.Items)-1])
		if *p.Next != last.Seq {
			t.Fatalf("GET %s: next_after_seq %d, last item seq %d", path, *p.Next, last.Seq)
		}
		for _, it := range p.Items {
			var buf bytes.Buffer
			if err := json.Compact(&buf, it); err != nil {
				t.Fatal(err)
			}
			all = append(all, json.RawMessage(buf.Bytes()))
		}
		after = *p.Next
	}
}

func itemsOf(t *testing.T, raw []json.RawMessage) []eventItemJSON {
	t.Helper()
	out := make([]eventItemJSON, len(raw))
	for i, r := range raw {
		out[i] = decode[eventItemJSON](t, r)
	}
	return out
}

func seqsOf(items []eventItemJSON) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.Seq
	}
	return out
}

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// openSSE connects to /v1/events/stream with the admin key and delivers its
// events on a channel (closed when the stream ends); cancel disconnects.
func openSSE(t *testing.T, n *testenv.Node, q string, lastEventID string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	return openSSEAs(t, n, n.AdminKey, q, lastEventID)
}

// openSSEAs is openSSE with another key.
func openSSEAs(t *testing.T, n *testenv.Node, key, q string, lastEventID string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", n.HTTP+"/v1/events/stream?"+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
	ch := make(chan sseEvent, 1024)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if len(data) > 0 {
					ev.data = strings.Join(data, "\n")
					ch <- ev
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return ch, cancel
}

// readSSE takes exactly k events from ch within d.
func readSSE(t *testing.T, ch <-chan sseEvent, k int, d time.Duration) []sseEvent {
	t.Helper()
	var out []sseEvent
	timeout := time.After(d)
	for len(out) < k {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended after %d of %d events", len(out), k)
			}
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("only %d of %d events within %v", len(out), k, d)
		}
	}
	return out
}

// checkSSE compares stream events with replayed items: same seq, type and JSON.
func checkSSE(t *testing.T, what string, got []sseEvent, want []json.RawMessage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i, ev := range got {
		w := decode[eventItemJSON](t, want[i])
		if ev.id != strconv.FormatUint(w.Seq, 10) || ev.event != w.Type {
			t.Errorf("%s[%d]: id %q event %q, want %d %s", what, i, ev.id, ev.event, w.Seq, w.Type)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(ev.data)); err != nil {
			t.Fatalf("%s[%d]: data %q: %v", what, i, ev.data, err)
		}
		if buf.String() != string(want[i]) {
			t.Errorf("%s[%d]: data\n got %s\nwant %s", what, i, buf.String(), want[i])
		}
	}
}

func TestEventReplayAndTail(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{})
	const secret = "ev3nt-s3cr3t"
	create := func(id string) {
		t.Helper()
		st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"n-%s","url":"rtsp://10.0.0.1/%s","username":"u","password":%q}`, id, id, id, secret))
		if st != 201 {
			t.Fatalf("create %s: %d %s", id, st, body)
		}
	}
	patch := func(id, body string) {
		t.Helper()
		st, _, b := n.Do("PATCH", "/v1/devices/"+id, "", body)
		if st != 200 {
			t.Fatalf("patch %s: %d %s", id, st, b)
		}
	}
	for _, id := range []string{"ev-a", "ev-b", "ev-c"} {
		create(id)
	}
	patch("ev-a", `{"name":"A2"}`)
	patch("ev-b", `{"labels":{"site":"hq"}}`)
	patch("ev-a", `{"password":"`+secret+`-2"}`)

	// Replay, two at a time: every event once, in seq order.
	raw := replayAll(t, n, "limit=2")
	items := itemsOf(t, raw)
	if len(items) < 6 {
		t.Fatalf("replay: %d events, want at least 6", len(items))
	}
	for i := 1; i < len(items); i++ {
		if items[i].Seq <= items[i-1].Seq {
			t.Fatalf("replay out of order or repeated: %v", seqsOf(items))
		}
	}
	for _, it := range items {
		if it.Time == "" || it.Type == "" || it.Kind == "" || it.Aggregate == "" || it.Version == 0 || it.Node == "" || len(it.Data) == 0 {
			t.Errorf("incomplete item %+v", it)
		}
		if strings.Contains(string(it.Data), secret) || strings.Contains(string(it.Data), "password") {
			t.Errorf("secret in event data: %s", it.Data)
		}
	}
	// One big page equals the small pages.
	if big := replayAll(t, n, "limit=1000"); len(big) != len(raw) {
		t.Errorf("limit=1000 gave %d events, limit=2 gave %d", len(big), len(raw))
	} else {
		for i := range big {
			if string(big[i]) != string(raw[i]) {
				t.Errorf("item %d differs: %s vs %s", i, big[i], raw[i])
			}
		}
	}
	// The default limit is 100 and the answer has both members.
	if st, _, body := n.Do("GET", "/v1/events", "", ""); st != 200 || !strings.Contains(string(body), `"next_after_seq"`) {
		t.Errorf("GET /v1/events: %d %s", st, body)
	}

	// Every device event of the per-device history is in the replay.
	devEvents := map[string][]uint64{}
	for _, it := range items {
		if it.Kind == "device" {
			devEvents[it.Aggregate] = append(devEvents[it.Aggregate], it.Seq)
		}
	}
	for _, id := range []string{"ev-a", "ev-b", "ev-c"} {
		st, _, body := n.Do("GET", "/v1/devices/"+id+"/events", "", "")
		if st != 200 {
			t.Fatalf("history %s: %d %s", id, st, body)
		}
		hist := decode[struct {
			Items []eventItemJSON `json:"items"`
		}](t, body)
		if fmt.Sprint(seqsOf(hist.Items)) != fmt.Sprint(devEvents[id]) {
			t.Errorf("%s: history %v, replay %v", id, seqsOf(hist.Items), devEvents[id])
		}
	}

	// Filters.
	byType := itemsOf(t, replayAll(t, n, "type=device.registered&limit=2"))
	if len(byType) != 3 {
		t.Errorf("type=device.registered: %d events, want 3", len(byType))
	}
	for _, it := range byType {
		if it.Type != "device.registered" {
			t.Errorf("type filter let through %+v", it)
		}
	}
	byKind := itemsOf(t, replayAll(t, n, "kind=device"))
	if fmt.Sprint(seqsOf(byKind)) != fmt.Sprint(seqsOf(filter(items, func(it eventItemJSON) bool { return it.Kind == "device" }))) {
		t.Errorf("kind=device: %v", seqsOf(byKind))
	}
	if got := itemsOf(t, replayAll(t, n, "kind=stream")); len(got) != len(filter(items, func(it eventItemJSON) bool { return it.Kind == "stream" })) {
		t.Errorf("kind=stream: %d events", len(got))
	}
	byAgg := itemsOf(t, replayAll(t, n, "kind=device&aggregate=ev-a&limit=1"))
	if fmt.Sprint(seqsOf(byAgg)) != fmt.Sprint(devEvents["ev-a"]) || len(byAgg) != 3 {
		t.Errorf("aggregate=ev-a: %v, want %v", seqsOf(byAgg), devEvents["ev-a"])
	}
	updA := itemsOf(t, replayAll(t, n, "type=device.updated&aggregate=ev-a"))
	wantUpdA := filter(items, func(it eventItemJSON) bool { return it.Aggregate == "ev-a" && it.Type == "device.updated" })
	if len(updA) != 1 || fmt.Sprint(seqsOf(updA)) != fmt.Sprint(seqsOf(wantUpdA)) {
		t.Errorf("type=device.updated&aggregate=ev-a: %v, want one: %v", seqsOf(updA), seqsOf(wantUpdA))
	}
	// Time window [from, to): from the second event's time on.
	from := items[1].Time
	byTime := itemsOf(t, replayAll(t, n, "from="+url.QueryEscape(from)))
	want := filter(items, func(it eventItemJSON) bool { return it.Time >= from })
	if fmt.Sprint(seqsOf(byTime)) != fmt.Sprint(seqsOf(want)) {
		t.Errorf("from=%s: %v, want %v", from, seqsOf(byTime), seqsOf(want))
	}
	if got := replayAll(t, n, "to=2000-01-01T00:00:00Z"); len(got) != 0 {
		t.Errorf("to=2000: %d events", len(got))
	}
	// after_seq in the middle.
	mid := items[2].Seq
	if got := itemsOf(t, replayAll(t, n, "")); len(got) != len(items) {
		t.Errorf("no query: %d events", len(got))
	}
	st, _, body := n.Do("GET", fmt.Sprintf("/v1/events?after_seq=%d&limit=1000", mid), "", "")
	if st != 200 || len(decode[eventPageJSON](t, body).Items) != len(items)-3 {
		t.Errorf("after_seq=%d: %d %s", mid, st, body)
	}

	// Bad parameters name the field.
	for _, c := range []struct{ q, field string }{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=abc", "limit"},
		{"after_seq=-1", "after_seq"},
		{"after_seq=x", "after_seq"},
		{"kind=camera", "kind"},
		{"type=nope", "type"},
		{"kind=device&aggregate=BAD.ID", "aggregate"},
		{"kind=stream&aggregate=ev-a", "aggregate"},
		{"aggregate=ev-a", "kind"},
		{"from=yesterday", "from"},
		{"to=2026-13-01T00:00:00Z", "to"},
	} {
		st, hdr, body := n.Do("GET", "/v1/events?"+c.q, "", "")
		expectProblem(t, "/v1/events?"+c.q, st, hdr, body, 400, c.field)
		if c.field != "limit" { // the stream has no limit: it ignores the parameter
			st, hdr, body = n.Do("GET", "/v1/events/stream?"+c.q, "", "")
			expectProblem(t, "/v1/events/stream?"+c.q, st, hdr, body, 400, c.field)
		}
	}
	st, hdr, body := n.Do("GET", "/v1/events/stream", "", "", "Last-Event-ID", "abc")
	expectProblem(t, "Last-Event-ID abc", st, hdr, body, 400, "Last-Event-ID")
	st, hdr, body = n.Do("GET", "/v1/events", "-", "")
	expectProblem(t, "no key", st, hdr, body, 401, "")

	// SSE: read the first four device events, disconnect, miss some, resume.
	devRaw := replayAll(t, n, "kind=device")
	ch, cancel := openSSE(t, n, "kind=device", "")
	first := readSSE(t, ch, 4, 10*time.Second)
	checkSSE(t, "first", first, devRaw[:4])
	cancel()
	for range ch {
	}
	lastID := first[len(first)-1].id

	create("ev-d")
	create("ev-e")
	patch("ev-d", `{"name":"D2"}`)
	lastSeq, _ := strconv.ParseUint(lastID, 10, 64)
	missed := replayAll(t, n, "kind=device")
	missed = filter2(t, missed, func(it eventItemJSON) bool { return it.Seq > lastSeq })
	if len(missed) != len(devRaw)-4+3 {
		t.Fatalf("missed %d events, want %d", len(missed), len(devRaw)-4+3)
	}
	// after_seq=0 in the URL: Last-Event-ID wins (a browser resends both).
	ch, cancel = openSSE(t, n, "kind=device&after_seq=0", lastID)
	resumed := readSSE(t, ch, len(missed), 10*time.Second)
	checkSSE(t, "resumed", resumed, missed)
	// Nothing more until something happens; then it arrives live.
	select {
	case ev := <-ch:
		t.Fatalf("unexpected extra event %+v", ev)
	case <-time.After(700 * time.Millisecond):
	}
	patch("ev-e", `{"name":"E2"}`)
	live := readSSE(t, ch, 1, 10*time.Second)
	var liveItem eventItemJSON
	if err := json.Unmarshal([]byte(live[0].data), &liveItem); err != nil || liveItem.Aggregate != "ev-e" || liveItem.Type != "device.updated" {
		t.Errorf("live event %+v (%v)", live[0], err)
	}
	cancel()

	// ?last=2: the log's last two events, then live.
	all := replayAll(t, n, "")
	ch, cancel = openSSE(t, n, "last=2", "")
	checkSSE(t, "last=2", readSSE(t, ch, 2, 10*time.Second), all[len(all)-2:])
	cancel()
	st, hdr, body = n.Do("GET", "/v1/events/stream?last=2&after_seq=1", "", "")
	expectProblem(t, "last with after_seq", st, hdr, body, 400, "last")

	// A stream ends when its key is deleted.
	st, _, body = n.Do("POST", "/v1/keys", "", `{"name":"feed","role":"viewer"}`)
	var feedKey struct{ ID, Key string }
	if err := json.Unmarshal(body, &feedKey); st != 201 || err != nil {
		t.Fatalf("viewer key: %d %s", st, body)
	}
	ch, cancel = openSSEAs(t, n, feedKey.Key, "last=0", "")
	if st, _, body := n.Do("DELETE", "/v1/keys/"+feedKey.ID, "", ""); st != 204 {
		t.Fatalf("delete key: %d %s", st, body)
	}
	ended := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-ch:
		case <-ended:
			t.Fatal("the event stream of a deleted key is still open after 10 s")
		}
	}
	cancel()

	// Filters on the stream: type.
	ch, cancel = openSSE(t, n, "type=device.registered", "")
	regs := readSSE(t, ch, 5, 10*time.Second)
	for _, ev := range regs {
		if ev.event != "device.registered" {
			t.Errorf("type filter on the stream let through %+v", ev)
		}
	}
	cancel()

	// The CLI: replay prints exactly the API's items as JSON lines.
	all = replayAll(t, n, "")
	out := runCLI(t, "events", "replay", "--api", n.HTTP, "--key", n.AdminKey, "--page-size", "3")
	checkLines(t, "cli replay", out, all)
	out = runCLI(t, "events", "replay", "--api", n.HTTP, "--key", n.AdminKey, "--kind", "device", "--aggregate", "ev-a", "--after-seq", "1")
	checkLines(t, "cli replay ev-a", out, filter2(t, all, func(it eventItemJSON) bool {
		return it.Kind == "device" && it.Aggregate == "ev-a" && it.Seq > 1
	}))
	cmd := exec.Command(testenv.Binary(t), "events", "replay", "--api", n.HTTP, "--key", n.AdminKey, "--limit-typo", "1")
	if err := cmd.Run(); err == nil {
		t.Errorf("cli accepted an unknown flag")
	}
	cmd = exec.Command(testenv.Binary(t), "events", "replay", "--api", n.HTTP, "--key", n.AdminKey, "--kind", "camera")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "kind") {
		t.Errorf("cli bad kind: %v %s", err, b)
	}

	// The CLI tail prints the backlog, then follows.
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	tail := exec.CommandContext(ctx, testenv.Binary(t), "events", "tail", "--api", n.HTTP, "--key", n.AdminKey, "--kind", "device", "--after-seq", strconv.FormatUint(lastSeq, 10))
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tail.Process.Kill(); tail.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	wantTail := filter2(t, all, func(it eventItemJSON) bool { return it.Kind == "device" && it.Seq > lastSeq })
	var gotTail []string
	for len(gotTail) < len(wantTail) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tail ended after %d lines", len(gotTail))
			}
			gotTail = append(gotTail, l)
		case <-ctx.Done():
			t.Fatalf("tail: %d of %d lines", len(gotTail), len(wantTail))
		}
	}
	checkLines(t, "cli tail backlog", strings.Join(gotTail, "\n")+"\n", wantTail)
	create("ev-f")
	select {
	case l := <-lines:
		if it := decode[eventItemJSON](t, []byte(l)); it.Aggregate != "ev-f" || it.Type != "device.registered" {
			t.Errorf("tail live line %s", l)
		}
	case <-ctx.Done():
		t.Fatal("tail: no live line")
	}
}

func filter(items []eventItemJSON, keep func(eventItemJSON) bool) []eventItemJSON {
	var out []eventItemJSON
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

func filter2(t *testing.T, raw []json.RawMessage, keep func(eventItemJSON) bool) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, r := range raw {
		if keep(decode[eventItemJSON](t, r)) {
			out = append(out, r)
		}
	}
	return out
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("argus %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func checkLines(t *testing.T, what, out string, want []json.RawMessage) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		lines = nil
	}
	if len(lines) != len(want) {
		t.Fatalf("%s: %d lines, want %d:\n%s", what, len(lines), len(want), out)
	}
	for i := range lines {
		if lines[i] != string(want[i]) {
			t.Errorf("%s line %d:\n got %s\nwant %s", what, i, lines[i], want[i])
		}
	}
}
