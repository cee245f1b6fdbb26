package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/test/testenv"
)

// TestPausedNodeIsFenced: the node owning most shards is paused (SIGSTOP)
// for longer than its leases under command load, then resumed. Commands
// were waiting in its actors' mailboxes meanwhile; none of them, nor
// anything else of it, lands in a shard after another node's
// shard.acquired of that shard (unless it acquired the shard again
// later), and every acknowledged command is in the log.
func TestPausedNodeIsFenced(t *testing.T) {
	c := testenv.StartCluster(t, 3, testenv.ClusterOptions{})
	defer func() {
		if t.Failed() || os.Getenv("ARGUS_KEEP_LOGS") != "" {
			for _, n := range c.Nodes {
				keepOutput(t, n)
			}
		}
	}()
	const devices = 120
	for i := 0; i < devices; i++ {
		n := c.Nodes[i%3]
		id := fmt.Sprintf("z%03d", i)
		if st, _, b := n.Do("POST", "/v1/devices", "", fmt.Sprintf(`{"id":%q,"name":"cam","url":"rtsp://127.0.0.1:9/none"}`, id)); st != 201 {
			t.Fatalf("create %s: %d %s", id, st, b)
		}
	}
	settled(t, c.Nodes[0])
	owned := ownedBy(status(t, c.Nodes[0]))
	victim := c.Nodes[0]
	for _, n := range c.Nodes {
		if owned[n.ID] > owned[victim.ID] {
			victim = n
		}
	}
	var others []*testenv.Node
	for _, n := range c.Nodes {
		if n != victim {
			others = append(others, n)
		}
	}
	t.Logf("pausing %s (owns %d shards)", victim.ID, owned[victim.ID])

	// Command load through every node, the victim included (its requests
	// hang while it is paused: those clients time out).
	var (
		acked   sync.Map
		ok, bad atomic.Int64
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		seq     atomic.Int64
	)
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := seq.Add(1)
				n := c.Nodes[int(k)%3]
				id := fmt.Sprintf("z%03d", int(k)%devices)
				name := "load-" + strconv.FormatInt(k, 10)
				if st, _, _ := n.Do("PATCH", "/v1/devices/"+id, "", fmt.Sprintf(`{"name":%q}`, name)); st == 200 {
					acked.Store(name, id)
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	paused := time.Now()
	syscall.Kill(victim.Pid(), syscall.SIGSTOP)
	testenv.WaitFor(t, 20*time.Second, "the others own every shard", func() bool { return allOwnedBy(t, others[0], others[0].ID, others[1].ID) })
	time.Sleep(time.Until(paused.Add(7 * time.Second)))
	syscall.Kill(victim.Pid(), syscall.SIGCONT)
	t.Logf("resumed %s after %s", victim.ID, time.Since(paused).Round(time.Millisecond))
	time.Sleep(5 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("command load: %d acknowledged, %d refused or failed", ok.Load(), bad.Load())
	settled(t, others[0])

	// The log, in order: terms per shard, then every event of the victim.
	all := replay(t, others[0], "")
	type term struct {
		node string
		seq  uint64
		at   time.Time
	}
	terms := map[int][]term{}
	shardOf := func(e eventJSON) int {
		if e.Kind == events.KindShard {
			n, _ := strconv.Atoi(e.Aggregate)
			return n
		}
		dev, _, _ := strings.Cut(e.Aggregate, "~")
		return events.ShardOf(dev, shardCount)
	}
	late := 0
	for _, e := range all {
		n := shardOf(e)
		if e.Type == "shard.acquired" {
			terms[n] = append(terms[n], term{e.Node, e.Seq, e.Time})
			continue
		}
		ts := terms[n]
		if len(ts) == 0 || e.Kind == events.KindShard {
			continue
		}
		if cur := ts[len(ts)-1]; cur.node != e.Node {
			late++
			if late <= 10 {
				t.Errorf("seq %d %s of %s by %s lands in shard %d after %s acquired it (seq %d)", e.Seq, e.Type, e.Aggregate, e.Node, n, cur.node, cur.seq)
			}
		}
	}
	if late > 0 {
		t.Errorf("%d events of a former owner landed after the new owner's shard.acquired", late)
	}
	moved := 0
	for _, ts := range terms {
		for i := 1; i < len(ts); i++ {
			if ts[i-1].node == victim.ID && ts[i].node != victim.ID && ts[i].at.After(paused) {
				moved++
				break
			}
		}
	}
	t.Logf("%d events in the log; %d shards moved from %s to another node while it was paused", len(all), moved, victim.ID)
	if moved == 0 {
		t.Error("no shard moved away from the paused node")
	}

	// Every acknowledged command is in the log.
	if missing := missingAcked(all, &acked); missing > 0 {
		t.Errorf("%d acknowledged commands are not in the log", missing)
	}
}
