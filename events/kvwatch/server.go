package kvwatch

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The server knows the bucket's last revision (its stream's last sequence:
// puts, deletes and purges alike), so asking it detects a stuck watch of a
// bucket that is written to rarely, where silence is normal.

// checkServer awaits the bucket's last revision, asked every w.check, until
// ctx ends.
func (w *Watcher) checkServer(ctx context.Context) {
	t := time.NewTicker(w.check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rev, err := w.lastRevision(ctx)
		if err != nil {
			// No answer (a leader election, say): nothing learnt, nothing
			// concluded.
			if ctx.Err() == nil {
				w.log.Debug("kv last revision not known", "bucket", w.kv.Bucket(), "err", err)
			}
			continue
		}
		w.progress.want(rev, time.Now(), "server's last revision")
	}
}

// baseRevision is the bucket's last revision just before a watch starts,
// which that watch's initial values cover; 0 when unknown or not checking.
func (w *Watcher) baseRevision(ctx context.Context) uint64 {
	if w.check == 0 {
		return 0
	}
	rev, err := w.lastRevision(ctx)
	if err != nil {
		return 0
	}
	return rev
}

// lastRevision asks the server, briefly: a check that cannot be answered
// soon is better skipped than waited for.
func (w *Watcher) lastRevision(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, min(w.check, time.Second))
	defer cancel()
	st, err := w.kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok || bs.StreamInfo() == nil {
		return 0, fmt.Errorf("kv status of %s has no stream info", w.kv.Bucket())
	}
	return bs.StreamInfo().State.LastSeq, nil
}
