package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

// analyticsPaths are the analytics endpoints over the last and next hour.
func analyticsPaths() []string {
	now := time.Now().UTC()
	w := "from=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339))
	return []string{
		"/v1/analytics/uptime?" + w,
		"/v1/analytics/recordings?" + w + "&group_by=device",
		"/v1/analytics/events?" + w + "&interval=1h&group_by=type",
		"/v1/analytics/streams?" + w,
	}
}

// Without ClickHouse every analytics endpoint answers 503 problem+json.
func TestAnalyticsWithoutClickHouse(t *testing.T) {
	n := testenv.StartDev(t, testenv.NodeOptions{})
	for _, p := range analyticsPaths() {
		st, hdr, body := n.Do("GET", p, "", "")
		expectProblem(t, "GET "+p+" without clickhouse", st, hdr, body, 503, "")
	}
}

// With ClickHouse: the event counts show the devices created here; bad
// parameters are 400 naming the field.
func TestAnalyticsEventsCountsRegistrations(t *testing.T) {
	ch := testenv.NewClickHouse(t) // its own server: the counts are this test's alone
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr()})
	const devices = 5
	for i := range devices {
		body := fmt.Sprintf(`{"id":"an-%d","name":"d","url":"rtsp://h/%d"}`, i, i)
		if st, _, b := n.Do("POST", "/v1/devices", "", body); st != 201 {
			t.Fatalf("create an-%d: %d %s", i, st, b)
		}
	}
	paths := analyticsPaths()
	type item struct {
		Bucket string `json:"bucket"`
		Type   string `json:"type"`
		Count  uint64 `json:"count"`
	}
	var (
		registered uint64
		last       string
	)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, _, body := n.Do("GET", paths[2], "", "")
		last = fmt.Sprintf("%d %s", st, body)
		if st == 200 {
			registered = 0
			for _, it := range decode[struct{ Items []item }](t, body).Items {
				if _, err := time.Parse(time.RFC3339, it.Bucket); err != nil {
					t.Fatalf("bucket %q is not RFC 3339", it.Bucket)
				}
				if it.Type == "device.registered" {
					registered += it.Count
				}
			}
			if registered == devices {
				break
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if registered != devices {
		t.Fatalf("device.registered count %d; want %d (last answer %s)", registered, devices, last)
	}
	// The other endpoints answer too.
	for _, p := range []string{paths[0], paths[1], paths[3]} {
		if st, _, body := n.Do("GET", p, "", ""); st != 200 {
			t.Errorf("GET %s: %d %s", p, st, body)
		}
	}
	for _, c := range []struct{ path, field string }{
		{"/v1/analytics/events?from=yesterday&to=2030-01-01T00:00:00Z", "from"},
		{"/v1/analytics/uptime?from=2024-01-01T00:00:00Z", "to"},
		{"/v1/analytics/events?from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z&interval=7m", "interval"},
		{"/v1/analytics/recordings?from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z&group_by=week", "group_by"},
	} {
		st, hdr, body := n.Do("GET", c.path, "", "")
		expectProblem(t, "GET "+c.path, st, hdr, body, 400, c.field)
	}
}
