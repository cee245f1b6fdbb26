package embedded

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Sync is when the embedded server's file store makes what it wrote durable
// (fsync). What an acknowledged publish survives, in nats-server v2.15.2:
//
//   - Every setting: an R1 stream writes each message with write(2)
//     before its PubAck is sent, so it is in the kernel when the client
//     sees the ack and survives a kill -9 of the process (with embedded
//     NATS: of Argus itself). It does not survive a power loss or kernel
//     crash until the next fsync.
//   - Always: the message is also fsynced, one fsync per message, before
//     the ack; it survives a power loss.
//   - Interval: a background fsync of every written block every Interval;
//     a power loss loses at most about the last Interval of acked messages.
//
// On a replicated stream (R3) the ack waits for a quorum: replication is
// the durability there, and nats-server relaxes Always for the stream's
// store to a sync at snapshots while its Raft log fsyncs every append.
type Sync struct {
	Always   bool          // fsync every message before its ack (nats: sync_always)
	Interval time.Duration // otherwise fsync in the background this often; 0 = JetStream's default (2 min)
}

// DefaultSyncInterval is JetStream's own sync interval.
const DefaultSyncInterval = 2 * time.Minute

// ParseSync reads a sync setting: "always", or a positive Go duration
// ("1s", "2m") for the background fsync interval.
func ParseSync(s string) (Sync, error) {
	v := strings.TrimSpace(s)
	if strings.EqualFold(v, "always") {
		return Sync{Always: true}, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return Sync{}, fmt.Errorf("nats sync %q: want \"always\" or a positive duration such as 1s or 2m", s)
	}
	return Sync{Interval: d}, nil
}

// String is the setting as ParseSync reads it.
func (s Sync) String() string {
	switch {
	case s.Always:
		return "always"
	case s.Interval == 0:
		return DefaultSyncInterval.String()
	default:
		return s.Interval.String()
	}
}

func (s Sync) apply(opts *server.Options) error {
	if s.Interval < 0 {
		return errors.New("nats sync interval must be positive")
	}
	opts.SyncAlways = s.Always
	opts.SyncInterval = s.Interval
	if opts.SyncInterval == 0 {
		// What nats-server's config parser sets for sync: always, and its
		// default otherwise; the background sync also keeps the stream's
		// state file current with Always.
		opts.SyncInterval = DefaultSyncInterval
	}
	return nil
}
