package plan

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/media/storage/s3fake"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/test/testenv"
)

// A segment whose upload failed (S3 unreachable) stays a local partial and
// is retried by its plan: once S3 answers again it is uploaded, indexed
// once, and the partial is gone.
func TestFailedUploadIsRetriedThenIndexed(t *testing.T) {
	ctx := context.Background()
	srv := s3fake.ForTest(t, "rec")
	proxy := testenv.NewProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	cfg := srv.Config(t.TempDir())
	cfg.Endpoint = "http://" + proxy.Addr()
	st, err := storage.NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	nats := testenv.NewNATS(t)
	store, err := events.Open(ctx, testenv.Connect(t, nats.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	index, err := store.OpenSegments(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	key := "cam1~1/2026/12/01/100000.000-abcdefgh.mp4"
	w, err := st.Create(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("segment bytes"))
	proxy.Cut()
	if err := w.Close(); err == nil {
		t.Fatal("upload through a cut connection succeeded")
	}
	deps := &Deps{Store: store, Node: "n1", Log: slog.New(slog.DiscardHandler), Storage: st, Index: index}
	a := New(deps, events.Term{Shard: 3}, relay.Key{Device: "cam1", Channel: 1}, nil)().(*Actor)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a.unindexed = append(a.unindexed, record.Segment{Key: key, Start: start, End: start.Add(10 * time.Second),
		DurationMS: 10000, Bytes: 13, Unpublished: true})
	a.indexPending(nil) // S3 still unreachable: kept for a retry
	if len(a.unindexed) != 1 {
		t.Fatalf("%d segments waiting, want 1", len(a.unindexed))
	}
	proxy.Heal()
	a.indexPending(nil) // the retry
	if len(a.unindexed) != 0 {
		t.Fatalf("%d segments still waiting after S3 came back", len(a.unindexed))
	}
	segs, err := index.Range(ctx, a.ref, start, start.Add(time.Minute))
	if err != nil || len(segs) != 1 || segs[0].Key != key {
		t.Fatalf("index: %+v %v", segs, err)
	}
	rd, size, err := st.Open(ctx, key)
	if err != nil || size != 13 {
		t.Fatalf("uploaded object: %d bytes, %v", size, err)
	}
	rd.Close()
	if parts, _ := st.Partials(ctx); len(parts) != 0 {
		t.Fatalf("partials left: %v", parts)
	}
}
