// Package e2e drives real `argus dev` processes over HTTP, with real NATS
// and ClickHouse underneath.
package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/argus-vms/argus/test/testenv"
)

type deviceJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	URL       string            `json:"url"`
	Username  string            `json:"username"`
	Channels  int               `json:"channels"`
	Labels    map[string]string `json:"labels"`
	Status    string            `json:"status"`
	Version   uint64            `json:"version"`
	CreatedAt string            `json:"created_at"`
	UpdatedAt string            `json:"updated_at"`
}

type problem struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// expectProblem checks a 4xx/5xx answer is problem+json naming field.
func expectProblem(t *testing.T, what string, status int, hdr map[string][]string, body []byte, wantStatus int, wantField string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d: %s", what, status, wantStatus, body)
		return
	}
	if ct := strings.Join(hdr["Content-Type"], ""); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("%s: content-type %q", what, ct)
	}
	p := decode[problem](t, body)
	if p.Title == "" || p.Detail == "" {
		t.Errorf("%s: problem without title/detail: %s", what, body)
	}
	if wantField != "" && p.Field != wantField {
		t.Errorf("%s: field %q, want %q (%s)", what, p.Field, wantField, body)
	}
}

func TestDeviceLifecycle(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{})
	const secret = "s3cr3t-pa55"

	st, hdr, body := n.Do("POST", "/v1/devices", "", `{"id":"cam-1","name":"Gate","url":"rtsp://10.1.1.1:554/main","username":"admin","password":"`+secret+`","channels":2,"labels":{"site":"hq","floor":"1"}}`)
	if st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	if hdr.Get("Location") != "/v1/devices/cam-1" {
		t.Errorf("Location %q", hdr.Get("Location"))
	}
	d := decode[deviceJSON](t, body)
	if d.ID != "cam-1" || d.Name != "Gate" || d.Channels != 2 || d.Labels["site"] != "hq" || d.Status != "unknown" || d.Version != 1 || d.CreatedAt == "" {
		t.Errorf("created view %+v", d)
	}

	// Generated id; credentials in the URL move out of it.
	st, _, body = n.Do("POST", "/v1/devices", "", `{"name":"Lobby","url":"rtsp://u:`+secret+`@10.1.1.2/s"}`)
	if st != 201 {
		t.Fatalf("create without id: %d %s", st, body)
	}
	gen := decode[deviceJSON](t, body)
	if gen.ID == "" || gen.Channels != 1 || strings.Contains(gen.URL, "@") || gen.Username != "u" {
		t.Errorf("generated %+v", gen)
	}

	st, hdr, body = n.Do("POST", "/v1/devices", "", `{"id":"cam-1","name":"Dup","url":"rtsp://h/s"}`)
	expectProblem(t, "duplicate id", st, hdr, body, 409, "id")

	st, hdr, body = n.Do("GET", "/v1/devices/cam-1", "", "")
	if st != 200 || hdr.Get("ETag") != `"1"` {
		t.Fatalf("get: %d %v %s", st, hdr.Get("ETag"), body)
	}

	// PATCH: merge labels (null removes), stale If-Match → 412.
	st, _, body = n.Do("PATCH", "/v1/devices/cam-1", "", `{"name":"Gate A","labels":{"floor":null,"zone":"n"}}`, "If-Match", `"1"`)
	if st != 200 {
		t.Fatalf("patch: %d %s", st, body)
	}
	d = decode[deviceJSON](t, body)
	if d.Name != "Gate A" || d.Version != 2 || d.Labels["zone"] != "n" || d.Labels["floor"] != "" || d.Labels["site"] != "hq" {
		t.Errorf("patched %+v", d)
	}
	st, hdr, body = n.Do("PATCH", "/v1/devices/cam-1", "", `{"name":"stale"}`, "If-Match", `"1"`)
	expectProblem(t, "stale If-Match", st, hdr, body, 412, "")

	// Two concurrent PATCHes with the same If-Match: one wins.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = n.Do("PATCH", "/v1/devices/cam-1", "", fmt.Sprintf(`{"name":"race %d"}`, i), "If-Match", `"2"`)
		}()
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 412 || codes[0] == 412 && codes[1] == 200) {
		t.Errorf("concurrent If-Match: %v", codes)
	}

	// Password change: an event, never shown.
	st, _, body = n.Do("PATCH", "/v1/devices/cam-1", "", `{"password":"`+secret+`2"}`)
	if st != 200 {
		t.Fatalf("patch password: %d %s", st, body)
	}

	// List, paging and label filter.
	for i := range 5 {
		n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"page-%d","name":"p","url":"rtsp://h/%d","labels":{"site":"%s"}}`, i, i, map[bool]string{true: "hq", false: "branch"}[i%2 == 0]))
	}
	type list struct {
		Items      []deviceJSON `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}
	var all []string
	cursor := ""
	for page := 0; page < 10; page++ {
		st, _, body = n.Do("GET", "/v1/devices?limit=3&cursor="+cursor, "", "")
		if st != 200 {
			t.Fatalf("list: %d %s", st, body)
		}
		l := decode[list](t, body)
		for _, it := range l.Items {
			all = append(all, it.ID)
		}
		if l.NextCursor == nil || *l.NextCursor == "" {
			break
		}
		cursor = *l.NextCursor
	}
	if len(all) != 7 {
		t.Errorf("paged list: %v", all)
	}
	st, _, body = n.Do("GET", "/v1/devices?label=site:hq", "", "")
	if l := decode[list](t, body); st != 200 || len(l.Items) != 4 { // cam-1, page-0, page-2, page-4
		t.Errorf("label filter: %d %s", st, body)
	}
	// Status filter, combined with the label filter: the statuses split the
	// four hq devices (unreachable hosts, so none online; unknown until the
	// first probe, offline after).
	// A probe may change a status between the three lists: try again.
	var byStatus map[string]int
	for try := 0; try < 5 && (try == 0 || byStatus["offline"]+byStatus["unknown"] != 4); try++ {
		byStatus = statusCounts(t, n)
	}
	if byStatus["online"] != 0 || byStatus["offline"]+byStatus["unknown"] != 4 {
		t.Errorf("status filter: %v", byStatus)
	}

	// Event history: every event, secrets redacted.
	st, _, body = n.Do("GET", "/v1/devices/cam-1/events", "", "")
	if st != 200 {
		t.Fatalf("events: %d %s", st, body)
	}
	type evs struct {
		Items []struct {
			Seq     uint64          `json:"seq"`
			Type    string          `json:"type"`
			Time    string          `json:"time"`
			Version uint64          `json:"version"`
			Data    json.RawMessage `json:"data"`
		} `json:"items"`
	}
	e := decode[evs](t, body)
	if len(e.Items) != 4 || e.Items[0].Type != "device.registered" || e.Items[3].Type != "device.credentials_changed" || e.Items[3].Version != 4 {
		t.Errorf("events: %s", body)
	}

	// Delete, then 404 everywhere.
	if st, _, body = n.Do("DELETE", "/v1/devices/cam-1", "", ""); st != 204 {
		t.Errorf("delete: %d %s", st, body)
	}
	st, hdr, body = n.Do("GET", "/v1/devices/cam-1", "", "")
	expectProblem(t, "get after delete", st, hdr, body, 404, "")
	st, hdr, body = n.Do("DELETE", "/v1/devices/cam-1", "", "")
	expectProblem(t, "delete twice", st, hdr, body, 404, "")

	// The password never appears in a response or in the node's output.
	for _, path := range []string{"/v1/devices/" + gen.ID, "/v1/devices", "/v1/devices/cam-1/events", "/v1/devices/" + gen.ID + "/events"} {
		if _, _, b := n.Do("GET", path, "", ""); strings.Contains(string(b), secret) || strings.Contains(string(b), "password") {
			t.Errorf("%s leaks the password: %s", path, b)
		}
	}
	if strings.Contains(n.Output(), secret) {
		t.Errorf("the log contains the password")
	}
}

func TestBadInput(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{})
	n.Do("POST", "/v1/devices", "", `{"id":"ok-1","name":"x","url":"rtsp://h/s"}`)
	cases := []struct {
		what, method, path, body string
		status                   int
		field                    string
	}{
		{"bad json", "POST", "/v1/devices", `{"name":`, 400, "body"},
		{"unknown field", "POST", "/v1/devices", `{"name":"x","url":"rtsp://h/s","colour":"red"}`, 400, "colour"},
		{"http url", "POST", "/v1/devices", `{"name":"x","url":"http://h/s"}`, 400, "url"},
		{"no url", "POST", "/v1/devices", `{"name":"x"}`, 400, "url"},
		{"no name", "POST", "/v1/devices", `{"url":"rtsp://h/s"}`, 400, "name"},
		{"channels 0", "POST", "/v1/devices", `{"name":"x","url":"rtsp://h/s","channels":0}`, 400, "channels"},
		{"channels 65", "POST", "/v1/devices", `{"name":"x","url":"rtsp://h/s","channels":65}`, 400, "channels"},
		{"channels string", "POST", "/v1/devices", `{"name":"x","url":"rtsp://h/s","channels":"2"}`, 400, "channels"},
		{"limit", "GET", "/v1/devices?limit=5000", "", 400, "limit"},
		{"label filter", "GET", "/v1/devices?label=nocolon", "", 400, "label"},
		{"empty patch", "PATCH", "/v1/devices/ok-1", `{}`, 400, "body"},
		{"patch bad url", "PATCH", "/v1/devices/ok-1", `{"url":"ftp://x"}`, 400, "url"},
		{"weak etag", "PATCH", "/v1/devices/ok-1", `{"name":"y"}`, 0, ""},
	}
	for _, id := range []string{"a.b", "*", ">", "a b", "A", "-x", strings.Repeat("a", 64), "a\u00e9"} {
		b, _ := json.Marshal(map[string]any{"id": id, "name": "x", "url": "rtsp://h/s"})
		cases = append(cases, struct {
			what, method, path, body string
			status                   int
			field                    string
		}{"hostile id " + id, "POST", "/v1/devices", string(b), 400, "id"})
	}
	for _, c := range cases {
		if c.status == 0 {
			continue
		}
		st, hdr, body := n.Do(c.method, c.path, "", c.body)
		expectProblem(t, c.what, st, hdr, body, c.status, c.field)
	}
	st, hdr, body := n.Do("PATCH", "/v1/devices/ok-1", "", `{"name":"y"}`, "If-Match", `W/"1"`)
	expectProblem(t, "weak If-Match", st, hdr, body, 400, "If-Match")

	// Hostile ids in paths never reach NATS: 400 or 404, never 5xx.
	for _, p := range []string{"/v1/devices/a.b", "/v1/devices/%2A", "/v1/devices/%3E", "/v1/devices/a%20b", "/v1/devices/" + strings.Repeat("a", 64)} {
		if st, _, body := n.Do("GET", p, "", ""); st != 400 && st != 404 {
			t.Errorf("GET %s: %d %s", p, st, body)
		}
	}

	// 1 MiB body limit.
	big := `{"name":"` + strings.Repeat("x", 1<<20) + `","url":"rtsp://h/s"}`
	st, hdr, body = n.Do("POST", "/v1/devices", "", big)
	expectProblem(t, "body too large", st, hdr, body, 413, "")

	// Auth: missing/unknown key → 401; viewer can read but not write → 403.
	st, hdr, body = n.Do("GET", "/v1/devices", "-", "")
	expectProblem(t, "no key", st, hdr, body, 401, "")
	st, hdr, body = n.Do("GET", "/v1/devices", "nope", "")
	expectProblem(t, "unknown key", st, hdr, body, 401, "")
	st, _, body = n.Do("POST", "/v1/keys", "", `{"name":"dash","role":"viewer"}`)
	if st != 201 {
		t.Fatalf("create key: %d %s", st, body)
	}
	viewer := decode[struct {
		Key string `json:"key"`
	}](t, body).Key
	if st, _, body := n.Do("GET", "/v1/devices/ok-1", viewer, ""); st != 200 {
		t.Errorf("viewer read: %d %s", st, body)
	}
	st, hdr, body = n.Do("POST", "/v1/devices", viewer, `{"name":"x","url":"rtsp://h/s"}`)
	expectProblem(t, "viewer write", st, hdr, body, 403, "")
	st, _, body = n.Do("POST", "/v1/keys", "", `{"name":"ops","role":"operator"}`)
	operator := decode[struct {
		Key string `json:"key"`
	}](t, body).Key
	if st, _, body := n.Do("POST", "/v1/devices", operator, `{"name":"x","url":"rtsp://h/s"}`); st != 201 {
		t.Errorf("operator write: %d %s", st, body)
	}
	st, hdr, body = n.Do("POST", "/v1/keys", operator, `{"name":"x","role":"admin"}`)
	expectProblem(t, "operator makes keys", st, hdr, body, 403, "")

	// Without ClickHouse: analytics answer 503 saying why; readiness does not depend on it.
	st, hdr, body = n.Do("GET", "/v1/analytics/events", "", "")
	expectProblem(t, "analytics without clickhouse", st, hdr, body, 503, "")
	if st, _, body := n.Do("GET", "/readyz", "-", ""); st != 200 || !strings.Contains(string(body), `"clickhouse":"absent"`) {
		t.Errorf("readyz without clickhouse: %d %s", st, body)
	}

	// Unknown route → problem too.
	st, hdr, body = n.Do("GET", "/v1/nothing", "", "")
	expectProblem(t, "unknown route", st, hdr, body, 404, "")
}

// statusCounts lists the site:hq devices by each status filter, checking
// that every item has the status asked for.
func statusCounts(t *testing.T, n *testenv.Node) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, status := range []string{"online", "offline", "unknown"} {
		st, _, body := n.Do("GET", "/v1/devices?status="+status+"&label=site:hq", "", "")
		if st != 200 {
			t.Fatalf("status filter %s: %d %s", status, st, body)
		}
		var l struct {
			Items []deviceJSON `json:"items"`
		}
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		for _, it := range l.Items {
			if it.Status != status {
				t.Errorf("status filter %s lists %s (%s)", status, it.ID, it.Status)
			}
		}
		out[status] = len(l.Items)
	}
	return out
}
