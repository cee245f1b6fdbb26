package shard

import (
	"context"

	"github.com/argus-vms/argus/events"
)

// History reads one page of a device's history from the log: the device's
// own events with those of its channels' streams and recording plans, in
// log order, after sequence afterSeq, at most limit of them (none when
// limit < 1). It stops reading once it has limit events, so a long history
// costs one page per call, not the whole log of the device.
func (h *Host) History(ctx context.Context, deviceID string, afterSeq uint64, limit int) ([]events.Event, error) {
	if !events.ValidID(deviceID) {
		return nil, events.ErrInvalidID
	}
	if limit < 1 {
		return nil, nil
	}
	out := make([]events.Event, 0, min(limit, 64))
	last := afterSeq
	err := h.Read(ctx, h.historySubjects(deviceID), afterSeq, func(e events.Event) bool {
		if e.Seq <= last || e.Envelope == nil { // never repeat or go backwards, whatever the log does
			return true
		}
		out = append(out, e)
		last = e.Seq
		return len(out) < limit
	})
	return out, err
}

// historySubjects are the subjects of a device's history: the device and,
// for every possible channel, its stream and its plan (NATS wildcards are
// whole tokens, so "<device>~*" cannot be a filter: list the channels).
func (h *Host) historySubjects(deviceID string) []string {
	ref := h.Ref(deviceID)
	subjects := make([]string, 0, 1+2*events.MaxChannels)
	subjects = append(subjects, ref.Subject())
	for ch := 1; ch <= events.MaxChannels; ch++ {
		id := events.ChannelID(deviceID, ch)
		subjects = append(subjects, events.Ref{Shard: ref.Shard, Kind: events.KindStream, ID: id}.Subject(),
			events.Ref{Shard: ref.Shard, Kind: events.KindPlan, ID: id}.Subject())
	}
	return subjects
}
