// Package events holds the event log of Argus: the JetStream event store, the
// subject layout, ID rules and the JSON form of events (secrets redacted).
package events

import (
	"hash/fnv"
	"regexp"
	"strconv"
)

// idPattern is the only shape an aggregate ID may take. It keeps every ID a
// single safe NATS subject token: no '.', '*', '>' or whitespace.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidID reports whether id may name an aggregate.
func ValidID(id string) bool { return idPattern.MatchString(id) }

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
	KindDevice = "device"
)

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
