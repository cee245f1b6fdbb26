package events

import (
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/google/uuid"
)

// Event ids are random UUIDs; the pool amortizes the random source.
func init() { uuid.EnableRandPool() }

// Stamp fills an envelope's bookkeeping before it is appended: a fresh event
// id, the type derived from the payload, the aggregate, its next version,
// the time, the node, and the command that caused it (meta may be nil).
func Stamp(env *pb.Envelope, ref Ref, version uint64, node string, meta *pb.CommandMeta) *pb.Envelope {
	env.EventId = uuid.NewString()
	env.Type = TypeOf(env)
	env.AggregateKind = ref.Kind
	env.AggregateId = ref.ID
	env.Version = version
	env.TimeUnixMs = time.Now().UnixMilli()
	env.Node = node
	if meta != nil {
		env.CausationId, env.CorrelationId = meta.CommandId, meta.CorrelationId
	}
	return env
}
