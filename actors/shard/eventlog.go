package shard

import (
	"context"
	"errors"
	"time"

	"github.com/argus-vms/argus/events"
)

var errStop = errors.New("stop")

// Read calls fn for the events after afterSeq matching filters, in log
// order, until fn returns false or the end of the log as of the call.
func (h *Host) Read(ctx context.Context, filters []string, afterSeq uint64, fn func(events.Event) bool) error {
	err := h.deps.Store.Scan(ctx, filters, afterSeq, func(e events.Event) error {
		if !fn(e) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// Follow delivers events after afterSeq matching filters as they are
// appended, until ctx ends.
func (h *Host) Follow(ctx context.Context, filters []string, afterSeq uint64, fn func(events.Event) error) error {
	return h.deps.Store.Follow(ctx, filters, afterSeq, fn)
}

// LastSeq is the sequence of the log's last event.
func (h *Host) LastSeq(ctx context.Context) (uint64, error) { return h.deps.Store.LastSeq(ctx) }

// Subject is the subject filter of one aggregate, or of every aggregate of
// kind when id is empty. Per-channel aggregates live in their device's shard.
func (h *Host) Subject(kind, id string) string {
	if id == "" {
		return events.KindFilter(kind)
	}
	return events.Ref{Shard: events.ShardOf(events.ShardKey(kind, id), h.shards), Kind: kind, ID: id}.Subject()
}

// SeqAt is the sequence of the first event at or after t.
func (h *Host) SeqAt(ctx context.Context, t time.Time) (uint64, error) {
	return h.deps.Store.SeqAt(ctx, t)
}
