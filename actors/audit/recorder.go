// Package audit records who watched what: every live view and every
// playback becomes a fact in the event log (stream.viewed,
// recording.viewed on aggregate kind "view" in the device's shard), so
// /v1/events shows it and ClickHouse answers "who watched camera X last
// night" (argus.audit).
package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/events/pb"
)

// View is one finished view of a channel, live or recorded.
type View struct {
	Recording bool // recording.viewed, else stream.viewed
	Device    string
	Channel   int
	KeyID     string // the API key behind it (directly or through its token)
	Client    string // the viewer's address
	Protocol  string // rtsp | hls (live); mp4 | hls | segment (recordings)
	Start     time.Time
	End       time.Time
	Bytes     uint64
	// From and To are the recorded range viewed.
	From, To time.Time
}

// fact is a view's event and where it goes.
type fact struct {
	ref events.Ref
	env *pb.Envelope
}

// queueSize bounds the views waiting to be appended.
const queueSize = 4096

// Recorder appends views in the background, retrying until each is in
// the log or the recorder closes: a view must not hold up its session's
// end, nor be lost to a log that is briefly away.
type Recorder struct {
	store  *events.Store
	shards int
	node   string
	log    *slog.Logger
	q      chan fact
	stop   chan struct{}
	done   sync.WaitGroup
}

// NewRecorder starts a recorder appending to store.
func NewRecorder(store *events.Store, shards int, node string, log *slog.Logger) *Recorder {
	r := &Recorder{store: store, shards: shards, node: node, log: log, q: make(chan fact, queueSize), stop: make(chan struct{})}
	r.done.Add(1)
	go r.run()
	return r
}

// Viewed queues v. A full queue (the log away for long) drops it, logged.
func (r *Recorder) Viewed(v View) {
	if !events.ValidID(v.Device) || v.Channel < 1 || v.Channel > events.MaxChannels {
		return
	}
	env := &pb.Envelope{}
	if v.Recording {
		env.Payload = &pb.Envelope_RecordingViewed{RecordingViewed: &pb.RecordingViewed{
			Device: v.Device, Channel: uint32(v.Channel), KeyId: v.KeyID, Client: v.Client, Protocol: v.Protocol,
			StartUnixMs: v.Start.UnixMilli(), EndUnixMs: v.End.UnixMilli(), Bytes: v.Bytes,
			FromUnixMs: v.From.UnixMilli(), ToUnixMs: v.To.UnixMilli()}}
	} else {
		env.Payload = &pb.Envelope_StreamViewed{StreamViewed: &pb.StreamViewed{
			Device: v.Device, Channel: uint32(v.Channel), KeyId: v.KeyID, Client: v.Client, Protocol: v.Protocol,
			StartUnixMs: v.Start.UnixMilli(), EndUnixMs: v.End.UnixMilli(), Bytes: v.Bytes}}
	}
	ref := events.Ref{Shard: events.ShardOf(v.Device, r.shards), Kind: events.KindView, ID: events.ChannelID(v.Device, v.Channel)}
	events.Stamp(env, ref, 0, r.node, nil)
	select {
	case r.q <- fact{ref, env}:
	default:
		r.log.Error("viewing audit: queue full, view dropped", "device", v.Device, "channel", v.Channel, "key_id", v.KeyID)
	}
}

func (r *Recorder) run() {
	defer r.done.Done()
	b := backoff.Backoff{Min: 200 * time.Millisecond, Max: 10 * time.Second}
	for {
		var f fact
		select {
		case f = <-r.q:
		case <-r.stop:
			return
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := r.store.AppendFact(ctx, f.ref, f.env)
			cancel()
			if err == nil {
				b.Reset()
				break
			}
			r.log.Warn("viewing audit: append failed, retrying", "aggregate", f.ref.ID, "err", err)
			select {
			case <-time.After(b.Next()):
			case <-r.stop:
				r.log.Error("viewing audit: stopped with views not appended", "pending", len(r.q)+1)
				return
			}
		}
	}
}

// Close appends what is queued (for up to ctx) and stops.
func (r *Recorder) Close(ctx context.Context) {
	for len(r.q) > 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	close(r.stop)
	r.done.Wait()
}
