package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/shard"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/embedded"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats-server/v2/server"
)

// historyPlans and historyDays size the history of BenchmarkHistory: 300
// plans × 30 days of 60 s segments ≈ 13M segment facts (issue 12).
// ARGUS_BENCH_HISTORY_DAYS scales it for quicker runs.
const historyPlans = 300

func historyDays() int {
	if v, err := strconv.Atoi(os.Getenv("ARGUS_BENCH_HISTORY_DAYS")); err == nil && v > 0 {
		return v
	}
	return 30
}

// historyLog is a log with historyPlans devices, each with a recording
// plan, made through the product's actors.
type historyLog struct {
	url   string
	dir   string // the server's store directory
	srv   *server.Server
	store *events.Store
	index *events.SegmentIndex
}

func newHistoryLog(b *testing.B) historyLog {
	dir := b.TempDir()
	srv, err := embedded.Start(embedded.Options{StoreDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	ctx := context.Background()
	store, err := events.Open(ctx, testenv.Connect(b, srv.ClientURL()))
	if err != nil {
		b.Fatal(err)
	}
	index, err := store.OpenSegments(ctx, 1)
	if err != nil {
		b.Fatal(err)
	}
	sealer, _ := secret.NewSealer([]byte("bench-secret-0123456789abcdef"))
	engine, _ := actor.NewEngine(actor.NewEngineConfig())
	deps := &device.Deps{Store: store, Sealer: sealer, Node: "bench", Directory: device.NewDirectory(),
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	host, err := shard.Start(ctx, engine, deps, shard.Config{Shards: events.DefaultShards})
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range planIDs() {
		if r, err := host.Ask(ctx, id, &pb.RegisterDevice{Id: id, Name: "cam", Url: "rtsp://127.0.0.1:9/none"}); err != nil || r.Code != 0 {
			b.Fatalf("register %s: %v %v", id, r, err)
		}
		// Off: a plan with its retention, no camera to record here.
		if r, err := host.AskPlan(ctx, id, 1, &pb.SetPlan{Device: id, Channel: 1, Mode: "off", SegmentSeconds: 60, RetentionDays: 30}); err != nil || r.Code != 0 {
			b.Fatalf("plan %s: %v %v", id, r, err)
		}
	}
	host.Stop()
	return historyLog{url: srv.ClientURL(), dir: dir, srv: srv, store: store, index: index}
}

// fill records days of 60 s segments for every plan of the log.
func (l historyLog) fill(b *testing.B, days int, end time.Time) int64 {
	return fillSegments(b, l.index, planIDs(), days, end)
}

// planRef is the plan of device id's channel 1.
func planRef(id string) events.Ref {
	return events.Ref{Shard: events.ShardOf(id, events.DefaultShards), Kind: events.KindPlan, ID: events.ChannelID(id, 1)}
}

// planIDs are the devices of a historyLog.
func planIDs() []string {
	ids := make([]string, historyPlans)
	for i := range ids {
		ids[i] = fmt.Sprintf("h%03d", i)
	}
	return ids
}

// fillSegments records days of 60 s segments on channel 1 of every device
// through the segment index's Record, the call the plan actor makes for
// each segment, interleaved by time across plans as recorders write them.
func fillSegments(b *testing.B, index *events.SegmentIndex, ids []string, days int, end time.Time) int64 {
	ctx := context.Background()
	perPlan := days * 24 * 60
	start := end.Add(-time.Duration(perPlan) * time.Minute)
	var done atomic.Int64
	var wg sync.WaitGroup
	next := make(chan int)
	t0 := time.Now()
	for range 128 {
		wg.Go(func() {
			for i := range next {
				p, k := i/perPlan, i%perPlan
				id := ids[p]
				ref := planRef(id)
				s := start.Add(time.Duration(k) * time.Minute)
				seg := record.Segment{Key: historyKey(ref, s, k),
					Start: s, End: s.Add(time.Minute), DurationMS: 60000, Bytes: 1 << 20}
				if _, err := index.Record(ctx, ref, plan.SegmentRecorded(ref, "bench", seg, false)); err != nil {
					b.Errorf("record: %v", err)
					return
				}
				if n := done.Add(1); n%1_000_000 == 0 {
					progress("history: %d segment facts (%.0f/s)", n, float64(n)/time.Since(t0).Seconds())
				}
			}
		})
	}
	// Interleaved by time across plans, as recorders write them.
	for k := range perPlan {
		for p := range ids {
			next <- p*perPlan + k
		}
	}
	close(next)
	wg.Wait()
	return done.Load()
}

// compactSegments compacts every settled hour of fillSegments' history
// through the index's CompactHour, the call each plan actor makes once an
// hour has settled, hour by hour across plans as the actors would have
// over the month. It answers how many hours and how long.
func compactSegments(b *testing.B, index *events.SegmentIndex, ids []string, days int, end time.Time) (int64, time.Duration) {
	ctx := context.Background()
	first := end.Add(-time.Duration(days*24) * time.Hour).Truncate(time.Hour)
	settled := end.Add(-events.CompactSettle).Truncate(time.Hour)
	var done atomic.Int64
	var wg sync.WaitGroup
	type hour struct {
		plan    events.Ref
		subject string
	}
	next := make(chan hour)
	t0 := time.Now()
	for range 16 {
		wg.Go(func() {
			for h := range next {
				if err := index.CompactHour(ctx, h.plan, "bench", h.subject); err != nil {
					b.Errorf("compact: %v", err)
					return
				}
				if n := done.Add(1); n%50_000 == 0 {
					progress("history: %d plan-hours compacted (%.0f/s)", n, float64(n)/time.Since(t0).Seconds())
				}
			}
		})
	}
	for h := first; h.Before(settled); h = h.Add(time.Hour) {
		for _, id := range ids {
			ref := planRef(id)
			next <- hour{ref, events.SegmentSubject(ref, h.UnixMilli())}
		}
	}
	close(next)
	wg.Wait()
	return done.Load(), time.Since(t0)
}

// historyKey is the storage key of plan's k-th history segment, which starts at s.
func historyKey(plan events.Ref, s time.Time, k int) string {
	return fmt.Sprintf("%s/%s-%06d.mp4", plan.ID, s.UTC().Format("2006/01/02/150405.000"), k)
}

// BenchmarkHistory: (a) activation, (c) RSS, (d) log and index sizes and
// (e) the segment lookup of a 1-hour playback, with 300 plans × 30 days of
// 60 s segments against the same log with no history, in one run.
func BenchmarkHistory(b *testing.B) {
	days := historyDays()
	empty := newHistoryLog(b)
	full := newHistoryLog(b)
	end := time.Now().Truncate(time.Minute)
	t0 := time.Now()
	facts := full.fill(b, days, end)
	b.Logf("history: %d segment facts in %s", facts, time.Since(t0).Round(time.Second))
	rawMsgs, rawBytes, _ := full.index.Size(context.Background())
	hours, took := compactSegments(b, full.index, planIDs(), days, end)
	results.add("(d) index compaction of that history (every settled plan-hour, 16 at once)", fmt.Sprintf("%d hours in %s (%.0f/s)", hours, took.Round(time.Second), float64(hours)/took.Seconds()),
		fmt.Sprintf("%d plans need %.2f/s", historyPlans, historyPlans/3600.0), "—", "keeps up")

	et, emptyRSS := medianServe(b, []string{"--nats", empty.url})
	ft, fullRSS := medianServe(b, []string{"--nats", full.url})
	label := fmt.Sprintf("%d plans × %d days of 60 s segments (%d facts)", historyPlans, days, facts)
	results.add("(a) activation (argus serve start → ready), "+label+" (median of 3)", ft.Round(time.Millisecond).String(),
		et.Round(time.Millisecond).String()+" no history", fmt.Sprintf("%.2f", ft.Seconds()/et.Seconds()), "≤ 1.2")
	results.add("(c) RSS after activation, "+label, fmt.Sprintf("%.0f MiB", float64(fullRSS)/(1<<20)),
		fmt.Sprintf("%.0f MiB no history", float64(emptyRSS)/(1<<20)), fmt.Sprintf("%.2f", float64(fullRSS)/float64(emptyRSS)), "≤ 1.5")

	ctx := context.Background()
	evMsgs, evBytes := streamSize(b, full.store)
	segMsgs, segBytes, _ := full.index.Size(ctx)
	eMsgs, _ := streamSize(b, empty.store)
	results.add("(d) ARGUS_EVENTS with that history", fmt.Sprintf("%d events, %.1f MiB", evMsgs, float64(evBytes)/(1<<20)),
		fmt.Sprintf("%d events no history", eMsgs), fmt.Sprintf("%.2f", float64(evMsgs)/float64(eMsgs)), "independent of segments")
	results.add("(d) ARGUS_SEGMENTS with that history, compacted", fmt.Sprintf("%d messages, %.0f MiB (%.0f B/segment)", segMsgs, float64(segBytes)/(1<<20), float64(segBytes)/float64(max(facts, 1))),
		fmt.Sprintf("%d messages, %.0f MiB before (one per segment)", rawMsgs, float64(rawBytes)/(1<<20)), fmt.Sprintf("%.2f", float64(segBytes)/float64(max(rawBytes, 1))),
		"one per settled plan-hour + the last hour's segments + 7 days of deletions: bounded by retention")

	// (e) the index lookup of a 1-hour playback inside the history.
	var lat []time.Duration
	for i := range 50 {
		// Hours spread over the whole history (others than the TTFB probes
		// below read): most are out of every cache but the disk's.
		id := fmt.Sprintf("h%03d", i*7%historyPlans)
		ref := planRef(id)
		from := end.Add(-time.Duration(1+(i*17+5)%(days*24-1)) * time.Hour)
		t := time.Now()
		segs, err := full.index.Range(ctx, ref, from, from.Add(time.Hour))
		lat = append(lat, time.Since(t))
		if err != nil || len(segs) < 59 {
			b.Fatalf("range of %s at %s: %d segments, %v", id, from, len(segs), err)
		}
	}
	results.add("(e) segment lookup of 1 hour inside the history (index Range, p50 / p99 of 50)", ms(percentile(lat, 0.5))+" / "+ms(percentile(lat, 0.99)),
		"—", "—", "part of playback.mp4 TTFB ≤ 100 ms")

	// (e) end to end: playback.mp4 of 1 hour from a node serving that
	// history, time to its first 64 KB.
	results.add("(e) playback.mp4 of 1 hour inside the history, time to first 64 KB (p50 / p99 of 50)", playbackTTFB(b, full, end, days),
		"—", "—", "≤ 100 ms")

	// The same logs under a node's embedded NATS (as `argus dev` runs):
	// its RSS then includes the server holding the segment index.
	empty.srv.Shutdown()
	full.srv.Shutdown()
	embeddedArgs := func(dir string) []string {
		return []string{"--embedded-nats", "--nats-store", dir, "--nats-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))}
	}
	et, eRSS := medianServe(b, embeddedArgs(empty.dir))
	ft, fRSS := medianServe(b, embeddedArgs(full.dir))
	results.add("(a) activation with embedded NATS (its server recovers the streams first), "+label+" (median of 3)", ft.Round(time.Millisecond).String(),
		et.Round(time.Millisecond).String()+" no history", fmt.Sprintf("%.2f", ft.Seconds()/et.Seconds()), "≤ 1.2")
	results.add("(c) RSS with embedded NATS (node + server), "+label, fmt.Sprintf("%.0f MiB", float64(fRSS)/(1<<20)),
		fmt.Sprintf("%.0f MiB no history", float64(eRSS)/(1<<20)), fmt.Sprintf("%.2f", float64(fRSS)/float64(eRSS)), "≤ 1.5")
}

func streamSize(b *testing.B, store *events.Store) (uint64, uint64) {
	info, err := store.Stream().Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Msgs, info.State.Bytes
}

// medianServe is serveReady three times: the median start time and RSS.
func medianServe(b *testing.B, args []string) (time.Duration, int64) {
	var ds []time.Duration
	var rs []int64
	for range 3 {
		d, r := serveReady(b, args...)
		ds, rs = append(ds, d), append(rs, r)
	}
	slices.Sort(ds)
	slices.Sort(rs)
	return ds[1], rs[1]
}

// playbackTTFB serves full's history from one node and asks it for
// playback.mp4 over 50 hours spread over the history. The index points at
// keys that hold no file: the hours probed get real files (one 60 s
// fragmented MP4 from ffmpeg, linked under each key).
func playbackTTFB(b *testing.B, full historyLog, end time.Time, days int) string {
	data := b.TempDir()
	clip := filepath.Join(b.TempDir(), "clip.mp4")
	ff := exec.Command("ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "60",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-b:v", "2M",
		"-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", clip)
	if out, err := ff.CombinedOutput(); err != nil {
		b.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	type probe struct {
		id   string
		from time.Time
	}
	var probes []probe
	start := end.Add(-time.Duration(days*24*60) * time.Minute) // of fill's first segments
	// The first probe warms the node up and is not counted.
	for i := range 51 {
		id := fmt.Sprintf("h%03d", (i*11+3)%historyPlans)
		ref := planRef(id)
		from := end.Add(-time.Duration(1+(i*13)%(days*24-1)) * time.Hour)
		// The keys, from fill's naming: the index is not read before the
		// request, so its lookups are as cold as a viewer's.
		k0 := int(from.Sub(start) / time.Minute)
		for k := k0; k < k0+60; k++ {
			p := filepath.Join(data, "recordings", filepath.FromSlash(historyKey(ref, start.Add(time.Duration(k)*time.Minute), k)))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.Link(clip, p); err != nil && !os.IsExist(err) {
				b.Fatal(err)
			}
		}
		probes = append(probes, probe{id, from})
	}
	time.Sleep(11 * time.Second) // the server's block cache expires (10 s) after Range's lookups above
	n := startServe(b, data, "--nats", full.url)
	defer n.stop()
	var lat []time.Duration
	buf := make([]byte, 64<<10)
	for _, p := range probes {
		u := fmt.Sprintf("http://127.0.0.1:%d/v1/devices/%s/channels/1/playback.mp4?start=%s&end=%s", n.port, p.id,
			p.from.UTC().Format(time.RFC3339), p.from.Add(time.Hour).UTC().Format(time.RFC3339))
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer bench-admin-key")
		t := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			b.Fatalf("playback.mp4 of %s at %s: %s %s", p.id, p.from, resp.Status, body)
		}
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
		resp.Body.Close()
	}
	lat = lat[1:]
	return ms(percentile(lat, 0.5)) + " / " + ms(percentile(lat, 0.99))
}
