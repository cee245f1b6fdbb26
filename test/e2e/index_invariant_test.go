package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/test/testenv"
)

// segmentStarts are the start times (unix ms) of the published segment
// files under dir: their keys are <plan>/YYYY/MM/DD/HHMMSS.mmm-<rand>.mp4.
func segmentStarts(t *testing.T, dir string) []int64 {
	t.Helper()
	mp4s, _ := recordedFiles(t, dir)
	var out []int64
	for _, f := range mp4s {
		rel, _ := filepath.Rel(dir, f)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 5 {
			t.Fatalf("unexpected segment path %s", rel)
		}
		stamp, _, _ := strings.Cut(parts[4], "-")
		ts, err := time.Parse("2006/01/02/150405.000", strings.Join(append(parts[1:4], stamp), "/"))
		if err != nil {
			t.Fatalf("segment name %s: %v", rel, err)
		}
		out = append(out, ts.UnixMilli())
	}
	slices.Sort(out)
	return out
}

// indexedStarts are the start times of the channel's live index entries.
func indexedStarts(t *testing.T, n *testenv.Node, device string) []int64 {
	t.Helper()
	st, _, b := n.Do("GET", "/v1/recordings?device="+device+"&channel=1&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "", "")
	if st != 200 {
		return nil
	}
	var out []int64
	for _, it := range decode[recordingsJSON](t, b).Items {
		ts, err := time.Parse(time.RFC3339Nano, it.Start)
		if err != nil {
			t.Fatalf("index start %q: %v", it.Start, err)
		}
		out = append(out, ts.UnixMilli())
	}
	slices.Sort(out)
	return out
}

// plantOrphan copies one of plan's published segment files under dir to a
// new key starting at start, as a node killed between publishing a
// segment and indexing it leaves one.
func plantOrphan(t *testing.T, dir, plan string, start time.Time) string {
	t.Helper()
	mp4s, _ := recordedFiles(t, dir)
	if len(mp4s) == 0 {
		t.Fatal("no segment to copy")
	}
	b, err := os.ReadFile(mp4s[0])
	if err != nil {
		t.Fatal(err)
	}
	u := start.UTC()
	key := fmt.Sprintf("%s/%04d/%02d/%02d/%02d%02d%02d.%03d-orphan01.mp4", plan, u.Year(), int(u.Month()), u.Day(),
		u.Hour(), u.Minute(), u.Second(), u.Nanosecond()/int(time.Millisecond))
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return key
}

// Every segment file in storage is in the index, and every index entry has
// its file, after a SIGTERM, a kill -9 and a plan change in the middle of
// continuous recording (the segment being written when each happened
// included: it is recorded as it closes, or recovered after the crash),
// and a segment published but not indexed before a kill is found.
func TestEverySegmentFileIsIndexed(t *testing.T) {
	cam := startCam(t, fakecam.Options{Paths: []string{"inv"}})
	ch := testenv.ClickHouse(t)
	n := testenv.StartDev(t, testenv.NodeOptions{ClickHouse: ch.Addr(), Args: []string{"--idle-timeout", "2s"}})
	if st, _, body := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":"inv-1","name":"r","url":%q}`, cam.URL("inv"))); st != 201 {
		t.Fatalf("create: %d %s", st, body)
	}
	recording := func(what string) {
		waitFor(t, what, 15*time.Second, func() bool {
			_, _, b := n.Do("GET", "/v1/devices/inv-1/channels/1/plan", "", "")
			return decode[planJSON](t, b).Recording
		})
	}
	if st, _, body := n.Do("PUT", "/v1/devices/inv-1/channels/1/plan", "", `{"mode":"continuous","segment_seconds":10}`); st != 200 {
		t.Fatalf("put plan: %d %s", st, body)
	}
	recording("recording")
	time.Sleep(14 * time.Second) // mid-segment
	n.Stop()                     // SIGTERM: the open segment closes and is indexed
	n.Restart()
	recording("recording after SIGTERM")
	time.Sleep(13 * time.Second)
	n.Kill() // kill -9: the open segment is a partial, recovered at start
	// A segment published but never indexed (the node was killed while its
	// index appends were being retried): the plan's activation finds it in
	// storage and indexes it.
	plantOrphan(t, filepath.Join(n.Data, "recordings"), "inv-1~1", time.Now().Add(-20*time.Minute))
	n.Restart()
	recording("recording after kill -9")
	time.Sleep(13 * time.Second)
	// A plan change mid-segment ends recording: that segment is indexed too.
	if st, _, body := n.Do("PUT", "/v1/devices/inv-1/channels/1/plan", "", `{"mode":"off"}`); st != 200 {
		t.Fatalf("plan off: %d %s", st, body)
	}
	waitFor(t, "recording off", 10*time.Second, func() bool {
		_, _, b := n.Do("GET", "/v1/devices/inv-1/channels/1/plan", "", "")
		return !decode[planJSON](t, b).Recording
	})
	dir := filepath.Join(n.Data, "recordings")
	files := segmentStarts(t, dir)
	if len(files) < 4 {
		t.Fatalf("%d segment files after three recording runs", len(files))
	}
	var index []int64
	deadline := time.Now().Add(20 * time.Second) // the index is a projection: let it catch up
	for time.Now().Before(deadline) {
		if index = indexedStarts(t, n, "inv-1"); slices.Equal(index, files) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !slices.Equal(index, files) {
		t.Fatalf("files and index differ:\nfiles %v\nindex %v", files, index)
	}
	if _, partials := recordedFiles(t, dir); len(partials) > 0 {
		t.Errorf("partials left with recording off: %v", partials)
	}
	// Every indexed segment plays.
	for _, ms := range index {
		if st, _, data := n.Do("GET", fmt.Sprintf("/v1/devices/inv-1/channels/1/recordings/%d.mp4", ms), "", ""); st != 200 || len(data) == 0 {
			t.Errorf("segment %d: %d, %d bytes", ms, st, len(data))
		}
	}
}
