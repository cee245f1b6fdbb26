// Package events holds the event log of Argus: the JetStream event store, the
// subject layout, ID rules and the JSON form of events (secrets redacted).
package events

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// ValidID reports whether id may name an aggregate: ^[a-z0-9][a-z0-9_-]{0,62}$.
// That shape keeps every ID a single safe NATS subject token (no '.', '*',
// '>' or whitespace). Hand-written because it runs on every command.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// IDRule is the rule in words, for error messages.
const IDRule = "must match ^[a-z0-9][a-z0-9_-]{0,62}$"

// DefaultShards is the shard count of a new cluster.
const DefaultShards = 64

// ShardOf maps a device ID to its shard. A device's stream and plan
// aggregates use the device's shard, so they live on the same node.
func ShardOf(deviceID string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(deviceID))
	return int(h.Sum32() % uint32(shards))
}

// Kinds of aggregate.
const (
	KindDevice  = "device"
	KindStream  = "stream"  // one per device channel: id "<device>~<channel>"
	KindPlan    = "plan"    // recording plan, one per device channel: id "<device>~<channel>"
	KindShard   = "shard"   // ownership of a shard: id "<n>", in shard n
	KindView    = "view"    // viewing audit facts of a device channel: id "<device>~<channel>"
	KindAlarm   = "alarm"   // alarms of a device channel and type: id "<device>~<channel>~<type>" (AlarmSlot)
	KindWebhook = "webhook" // an outbound webhook subscription: its own id, in the shard of its id
	KindTask    = "task"    // a media task run by a worker slot: its own id, in the shard of its id
)

// ShardRef is the aggregate that records who owns shard n.
func ShardRef(n int) Ref { return Ref{Shard: n, Kind: KindShard, ID: strconv.Itoa(n)} }

// MaxChannels is the most channels a device may have.
const MaxChannels = 64

// ChannelID names the aggregate of one device channel (stream, later plan):
// "<device>~<channel>". '~' cannot occur in a device id, so the split is
// unambiguous, and it is a safe subject token.
func ChannelID(device string, channel int) string {
	return device + "~" + strconv.Itoa(channel)
}

// ParseChannelID splits a ChannelID, validating both parts.
func ParseChannelID(id string) (device string, channel int, ok bool) {
	device, ch, found := strings.Cut(id, "~")
	if !found || !ValidID(device) || len(ch) == 0 || len(ch) > 2 || ch[0] == '0' {
		return "", 0, false
	}
	n, err := strconv.Atoi(ch)
	if err != nil || n < 1 || n > MaxChannels {
		return "", 0, false
	}
	return device, n, true
}

// ValidAggregateID reports whether id may name an aggregate of kind: a
// device id, or a ChannelID for per-channel kinds.
func ValidAggregateID(kind, id string) bool {
	switch kind {
	case KindDevice:
		return ValidID(id)
	case KindStream, KindPlan, KindView:
		_, _, ok := ParseChannelID(id)
		return ok
	case KindAlarm:
		_, ok := ParseAlarmSlot(id)
		return ok
	case KindWebhook, KindTask:
		return ValidID(id)
	case KindShard:
		n, err := strconv.Atoi(id)
		return err == nil && n >= 0 && strconv.Itoa(n) == id
	}
	return false
}

// Ref names one aggregate and its shard.
type Ref struct {
	Shard int
	Kind  string
	ID    string
}

// Subject is the aggregate's subject in the event stream.
func (r Ref) Subject() string {
	return SubjectPrefix + "." + strconv.Itoa(r.Shard) + "." + r.Kind + "." + r.ID
}

// ShardFilter is the subject filter of every aggregate of kind in shard.
func ShardFilter(shard int, kind string) string {
	return SubjectPrefix + "." + strconv.Itoa(shard) + "." + kind + ".*"
}

// KindFilter is the subject filter of every aggregate of kind in any shard.
func KindFilter(kind string) string {
	return SubjectPrefix + ".*." + kind + ".*"
}

// ParseSubject reads the aggregate reference back from an event subject.
func ParseSubject(subject string) (Ref, bool) {
	parts := strings.SplitN(subject, ".", 5) // argus.evt.<shard>.<kind>.<id>
	if len(parts) != 5 || parts[0]+"."+parts[1] != SubjectPrefix {
		return Ref{}, false
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return Ref{}, false
	}
	return Ref{Shard: n, Kind: parts[3], ID: parts[4]}, true
}

// DeviceOf is the device an aggregate belongs to ("" for shards and ids
// that do not parse): its shard is the device's.
func DeviceOf(kind, id string) string {
	switch kind {
	case KindDevice:
		if ValidID(id) {
			return id
		}
	case KindStream, KindPlan, KindView:
		d, _, _ := ParseChannelID(id)
		return d
	case KindAlarm:
		s, _ := ParseAlarmSlot(id)
		return s.Device
	}
	return ""
}

// ShardKey is what places an aggregate in its shard (ShardOf): its device,
// or a webhook's or task's own id.
func ShardKey(kind, id string) string {
	if kind == KindWebhook || kind == KindTask {
		return id
	}
	return DeviceOf(kind, id)
}
