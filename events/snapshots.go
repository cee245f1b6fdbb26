package events

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Snapshots keeps one snapshot per shard (the states of its aggregates and
// the log sequence they cover) in the JetStream object store bucket
// argus_snapshots, so activation reads O(aggregates) plus the events since
// the snapshot instead of the shard's whole history. A snapshot is only a
// shortcut: without one (or with a broken one) activation folds the log.
type Snapshots struct{ obs jetstream.ObjectStore }

// OpenSnapshots creates or opens the snapshot bucket.
func (s *Store) OpenSnapshots(ctx context.Context, replicas int) (*Snapshots, error) {
	obs, err := retry(ctx, "snapshots", func(ctx context.Context) (jetstream.ObjectStore, error) {
		obs, err := s.js.ObjectStore(ctx, "argus_snapshots")
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			obs, err = s.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "argus_snapshots",
				Description: "Argus shard snapshots: aggregate states and the log sequence they cover",
				Storage:     jetstream.FileStorage, Replicas: replicas})
			if errors.Is(err, jetstream.ErrBucketExists) {
				return s.js.ObjectStore(ctx, "argus_snapshots")
			}
		}
		return obs, err
	})
	if err != nil {
		return nil, err
	}
	return &Snapshots{obs: obs}, nil
}

func snapshotName(shard int) string { return "shard-" + strconv.Itoa(shard) }

// Put stores shard's snapshot, replacing the previous one.
func (x *Snapshots) Put(ctx context.Context, shard int, data []byte) error {
	_, err := x.obs.PutBytes(ctx, snapshotName(shard), data)
	return err
}

// Get reads shard's snapshot (nil, nil when it has none). It is a
// shortcut only, so it gets 2 s in attempts of 500 ms: right after a node
// died the bucket's leader may be the dead one (a request to it is never
// answered), and folding the whole shard beats waiting.
func (x *Snapshots) Get(ctx context.Context, shard int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	b, err := retryEach(ctx, 500*time.Millisecond, "read a shard snapshot", func(ctx context.Context) ([]byte, error) {
		b, err := x.obs.GetBytes(ctx, snapshotName(shard))
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, nil
		}
		return b, err
	})
	return b, err
}
