package embedded

import (
	"time"
	_ "unsafe" // go:linkname

	_ "github.com/nats-io/nats-server/v2/server"
)

// nats-server elects a new Raft leader 4–9 s after the old one stops sending
// heartbeats (1 s apart), and has no option to change that. A killed node
// that led ARGUS_EVENTS would then leave the log unwritable for up to 9 s,
// three times the failover Argus promises; so a clustered embedded server
// uses quicker timings. They are process-wide, set before the server starts.

//go:linkname raftMinElection github.com/nats-io/nats-server/v2/server.minElectionTimeout
var raftMinElection time.Duration

//go:linkname raftMaxElection github.com/nats-io/nats-server/v2/server.maxElectionTimeout
var raftMaxElection time.Duration

//go:linkname raftHeartbeat github.com/nats-io/nats-server/v2/server.hbInterval
var raftHeartbeat time.Duration

//go:linkname raftLostQuorum github.com/nats-io/nats-server/v2/server.lostQuorumInterval
var raftLostQuorum time.Duration

// RaftTiming is how quickly a clustered embedded server notices a dead
// leader and elects another.
type RaftTiming struct {
	Heartbeat, MinElection, MaxElection, LostQuorum time.Duration
}

// FastFailover elects a new leader 1–1.6 s after the old one died. The
// lost-quorum interval keeps its default (10 s): shorter, a leader under
// load stepped down with two of three peers alive.
var FastFailover = RaftTiming{Heartbeat: 250 * time.Millisecond, MinElection: time.Second,
	MaxElection: 1600 * time.Millisecond, LostQuorum: 10 * time.Second}

// setRaftTiming applies t to every Raft group this process creates later.
func setRaftTiming(t RaftTiming) {
	raftHeartbeat, raftMinElection, raftMaxElection, raftLostQuorum = t.Heartbeat, t.MinElection, t.MaxElection, t.LostQuorum
}

// raftTiming is the timing in force (tests).
func raftTiming() RaftTiming {
	return RaftTiming{Heartbeat: raftHeartbeat, MinElection: raftMinElection, MaxElection: raftMaxElection, LostQuorum: raftLostQuorum}
}
