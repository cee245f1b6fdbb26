package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/embedded"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
)

// durabilityMode is one --nats-sync setting of a single embedded server.
type durabilityMode struct {
	name  string
	sync  embedded.Sync
	store *events.Store
	dir   string

	rates []float64
	lat   []time.Duration // 64 appenders: the log saturated
	lat1  []time.Duration // one appender: each append alone
}

// appendRound appends through events.Store.Append from appenders
// goroutines, each on its own device aggregate with its expected last
// sequence, for d. It returns appends/s and adds every append's latency to
// *lats.
func (m *durabilityMode) appendRound(b *testing.B, round, appenders int, d time.Duration, lats *[]time.Duration) float64 {
	ctx := context.Background()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		total  atomic.Int64
		failed atomic.Int64
	)
	start := time.Now()
	end := start.Add(d)
	for g := range appenders {
		wg.Go(func() {
			id := fmt.Sprintf("dur-r%d-%d-%02d", round, appenders, g)
			ref := events.Ref{Shard: events.ShardOf(id, events.DefaultShards), Kind: events.KindDevice, ID: id}
			lat := make([]time.Duration, 0, 4096)
			var last uint64
			for v := uint64(1); time.Now().Before(end); v++ {
				env := &pb.Envelope{}
				if v == 1 {
					env.Payload = &pb.Envelope_DeviceRegistered{DeviceRegistered: &pb.DeviceRegistered{
						Name: id, Url: "rtsp://cam/" + id, Username: "admin", Channels: 2, Labels: map[string]string{"site": "s1"}}}
				} else {
					name := fmt.Sprintf("%s-%d", id, v)
					env.Payload = &pb.Envelope_DeviceUpdated{DeviceUpdated: &pb.DeviceUpdated{Name: &name}}
				}
				events.Stamp(env, ref, v, "bench", nil)
				t0 := time.Now()
				seq, err := m.store.Append(ctx, ref, env, last)
				if err != nil {
					failed.Add(1)
					return
				}
				lat = append(lat, time.Since(t0))
				last = seq
			}
			total.Add(int64(len(lat)))
			mu.Lock()
			*lats = append(*lats, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Errorf("%s: %d appenders failed", m.name, failed.Load())
	}
	return float64(total.Load()) / time.Since(start).Seconds()
}

// fsyncRate is how many write(2)+fsync pairs of 256 bytes the disk under
// dir does per second for d, from one goroutine: the ceiling of a store
// that fsyncs every message in turn.
func fsyncRate(b *testing.B, dir string, d time.Duration) float64 {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, payloadSize)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkDurability measures issue 12 item 7's figure (f): R1 appends
// through the product's append path (events.Open + Store.Append, 64
// appenders on their own aggregates) on one embedded server per
// --nats-sync setting — JetStream's default (fsync every 2 min) as the
// baseline, always (fsync per message), 1s — interleaved over three rounds;
// throughput is the median round, latency percentiles are over every
// append of the three. Each round also times appends from one appender
// alone (the latency of a command when the log is not saturated), and the
// disk's own write+fsync rate, the ceiling of a store that fsyncs every
// message in turn.
func BenchmarkDurability(b *testing.B) {
	const (
		appenders = 64
		rounds    = 3
		perRound  = 3 * time.Second
	)
	ctx := context.Background()
	modes := []*durabilityMode{
		{name: "default (2m)", sync: embedded.Sync{}},
		{name: "always", sync: embedded.Sync{Always: true}},
		{name: "1s", sync: embedded.Sync{Interval: time.Second}},
	}
	for _, m := range modes {
		m.dir = b.TempDir() // ext4 here, like <data>/nats; not tmpfs
		s, err := embedded.Start(embedded.Options{StoreDir: m.dir, Listen: "127.0.0.1:0", Sync: m.sync})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(s.Shutdown)
		if got := s.JetStreamConfig(); got == nil || got.SyncAlways != m.sync.Always {
			b.Fatalf("%s: server JetStream config %+v", m.name, got)
		}
		if m.store, err = events.Open(ctx, testenv.Connect(b, s.ClientURL())); err != nil {
			b.Fatal(err)
		}
	}
	var disk []float64
	for round := range rounds {
		disk = append(disk, fsyncRate(b, filepath.Dir(modes[0].dir), time.Second))
		for _, m := range modes {
			m.rates = append(m.rates, m.appendRound(b, round, appenders, perRound, &m.lat))
			m.appendRound(b, round, 1, perRound/3, &m.lat1)
		}
	}
	base := modes[0]
	baseRate := median(base.rates)
	for _, m := range modes {
		b.Logf("%s: rounds %v", m.name, m.rates)
	}
	b.Logf("disk write+fsync rounds %v", disk)

	results.add("(f) disk: write(2)+fsync of 256 B, one writer (median of 3)", fmt.Sprintf("%.0f fsync/s", median(disk)), "—", "—", "reference: ceiling of fsync per message")
	results.add(fmt.Sprintf("(f) R1 appends, %d appenders, --nats-sync %s (median of 3 × %s)", appenders, base.name, perRound), fmt.Sprintf("%.0f msg/s", baseRate), "—", "1", "baseline")
	for _, m := range modes[1:] {
		r := median(m.rates)
		goal := "—"
		if m.sync.Always {
			goal = "≥ 1000 msg/s: default of dev and single-server serve"
		}
		results.add(fmt.Sprintf("(f) R1 appends, %d appenders, --nats-sync %s", appenders, m.name), fmt.Sprintf("%.0f msg/s", r), fmt.Sprintf("%.0f msg/s default", baseRate), fmt.Sprintf("%.2f", r/baseRate), goal)
	}
	bp50, bp99 := percentile(base.lat, 0.50), percentile(base.lat, 0.99)
	bq50, bq99 := percentile(base.lat1, 0.50), percentile(base.lat1, 0.99)
	for _, m := range modes {
		p50, p99 := percentile(m.lat, 0.50), percentile(m.lat, 0.99)
		results.add(fmt.Sprintf("(f) append latency p50 / p99, %d appenders, --nats-sync %s (%d appends)", appenders, m.name, len(m.lat)), ms(p50)+" / "+ms(p99), ms(bp50)+" / "+ms(bp99)+" default", fmt.Sprintf("%.2f / %.2f", float64(p50)/float64(bp50), float64(p99)/float64(bp99)), "—")
	}
	for _, m := range modes {
		q50, q99 := percentile(m.lat1, 0.50), percentile(m.lat1, 0.99)
		results.add(fmt.Sprintf("(f) append latency p50 / p99, 1 appender, --nats-sync %s (%d appends)", m.name, len(m.lat1)), ms(q50)+" / "+ms(q99), ms(bq50)+" / "+ms(bq99)+" default", fmt.Sprintf("%.2f / %.2f", float64(q50)/float64(bq50), float64(q99)/float64(bq99)), "—")
	}
}
