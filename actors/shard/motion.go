package shard

import (
	"context"
	"time"

	"github.com/argus-vms/argus/actors/media/motion"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/events/backoff"
)

// WatchMotion runs Argus's motion detection on a channel until ctx ends:
// it holds the channel's stream like a recording does (one camera pull
// whatever the readers) and detects on its access units, taking the next
// stream when the one it watches closes (the camera reconnected from
// scratch, the stream actor restarted).
func (h *Host) WatchMotion(ctx context.Context, device string, channel int, cfg motion.Config, fn func(motion.Event)) {
	k := relay.Key{Device: device, Channel: channel}
	b := backoff.Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second}
	for ctx.Err() == nil {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := h.HoldStream(hctx, k, true)
		cancel()
		if err != nil || st == nil {
			h.deps.Log.Debug("motion: cannot hold the stream yet", "device", device, "channel", channel, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(b.Next()):
			}
			continue
		}
		b.Reset()
		rctx, stop := context.WithCancel(ctx)
		go func() { // the stream closed: hold the next one
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-rctx.Done():
					return
				case <-t.C:
					if st.Closed() {
						stop()
						return
					}
				}
			}
		}()
		err = motion.Run(rctx, st, cfg, h.motionOpts, fn)
		stop()
		release, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h.HoldStream(release, k, false)
		cancel()
		if err != nil {
			h.deps.Log.Warn("motion detection stopped", "device", device, "channel", channel, "err", err)
		}
	}
}
