package gateway

import (
	"context"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"google.golang.org/protobuf/proto"
)

// Devices is the command side: every call is routed aggregate → shard → owner → actor.
type Devices interface {
	// Ask sends a command (*pb.RegisterDevice, *pb.UpdateDevice, *pb.RemoveDevice, *pb.GetDevice) to the device's actor.
	// err != nil means no answer (timeout, node down) → 503 problem with Retry-After: 1.
	Ask(ctx context.Context, deviceID string, cmd proto.Message) (*pb.DeviceReply, error)
	// List pages devices sorted by id: those with id > q.Cursor that match q's filters (label key=value, status), at
	// most limit; next == "" when no more.
	List(ctx context.Context, limit int, q *pb.ListDevices) (items []*pb.DeviceView, next string, err error)
	// History is one page of the device's history (its events and its channels' stream and plan events, from
	// JetStream) in log order: the events after afterSeq, at most limit; empty when there are no more.
	History(ctx context.Context, deviceID string, afterSeq uint64, limit int) ([]events.Event, error)
	// Ready reports whether every shard is activated.
	Ready() bool
}

// Analytics is optional (nil = no ClickHouse): Ping tells /readyz and analytics endpoints whether ClickHouse answers.
type Analytics interface {
	Ping(ctx context.Context) error
}
