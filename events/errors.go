package events

import (
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

var (
	// ErrConflict: another writer appended to the aggregate first (JetStream
	// 10071). Reload and decide again.
	ErrConflict = errors.New("events: concurrent append to the aggregate")
	// ErrFenced: the shard's ownership term ended (another node acquired
	// it); nothing of this term may be appended any more.
	ErrFenced = errors.New("events: the shard has a new owner")
	// ErrUnavailable: the log could not take the append in time; the event may
	// or may not be stored (a retry with the same event id is safe).
	ErrUnavailable = errors.New("events: event log unavailable")
	// ErrInvalidID: the aggregate id would not be a safe subject token.
	ErrInvalidID = errors.New("events: invalid aggregate id")
)

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

func isConflict(err error) bool {
	return apiCode(err) == jetstream.JSErrCodeStreamWrongLastSequence
}

// isBusy is 10164: a replicated stream refuses a sequence check on a
// subject while another checked message for it is being replicated; or
// 10158: it refuses a message whose id is being replicated (an earlier
// attempt of this append, or another writer's same fact, e.g. two nodes
// compacting one hour). Either is undecided, so the append is tried
// again: it then lands, is a duplicate (acked with the first's sequence)
// or conflicts.
func isBusy(err error) bool {
	c := apiCode(err)
	return c == jetstream.JSErrCodeStreamWrongLastSequenceConstant || c == jsErrCodeDuplicateInProcess
}

// jsErrCodeDuplicateInProcess is nats-server's JSStreamDuplicateMessageConflict
// (nats.go has no constant for it).
const jsErrCodeDuplicateInProcess jetstream.ErrorCode = 10158

// isTemporary covers 10163 (stream temporarily unavailable, e.g. during a
// leader change) and a missing responder while a stream leader is elected.
func isTemporary(err error) bool {
	return apiCode(err) == 10163 || errors.Is(err, jetstream.ErrNoStreamResponse)
}
