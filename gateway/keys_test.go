package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

func newKeyStore(t *testing.T, url string) (*KeyStore, jetstream.JetStream) {
	t.Helper()
	return newKeyStoreR(t, url, 1)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var keyFormat = regexp.MustCompile(`^ak_[0-9a-f]{40}$`)

func TestKeyStoreAcrossNodes(t *testing.T) {
	url := testenv.NATS(t)
	a, js := newKeyStore(t, url) // node A
	b, _ := newKeyStore(t, url)  // node B, its own connection and watcher
	ctx := context.Background()

	info, key, err := a.Create(ctx, "ci", RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if !keyFormat.MatchString(key) {
		t.Fatalf("key format %q", key)
	}
	if got, ok := a.Lookup(key); !ok || got.ID != info.ID || got.Role != RoleOperator || got.Name != "ci" {
		t.Fatalf("lookup on creating node: %+v %v", got, ok)
	}
	eventually(t, "key on node B", func() bool { _, ok := b.Lookup(key); return ok })
	if _, ok := a.Lookup(key + "x"); ok {
		t.Fatal("a wrong key authenticated")
	}
	if _, ok := a.Lookup(""); ok {
		t.Fatal("empty key authenticated")
	}

	// Only the hash is stored.
	kv, err := js.KeyValue(ctx, KeyBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.Value()), key) || strings.Contains(string(e.Value()), key[3:]) {
		t.Fatalf("stored value holds the key: %s", e.Value())
	}
	var stored map[string]any
	if err := json.Unmarshal(e.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "name", "role", "hash", "created_at"} {
		if _, ok := stored[f]; !ok {
			t.Errorf("stored value lacks %s: %s", f, e.Value())
		}
	}

	// A node started later loads existing keys before NewKeyStore returns.
	c, _ := newKeyStore(t, url)
	if _, ok := c.Lookup(key); !ok {
		t.Fatal("existing key unknown to a new node")
	}
	found := false
	for _, k := range c.List() {
		found = found || k.ID == info.ID
	}
	if !found {
		t.Fatal("List lacks the key")
	}

	// Deleted on B: stops working on A and C too.
	if err := b.Delete(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup(key); ok {
		t.Fatal("deleted key still works on the deleting node")
	}
	eventually(t, "delete on node A", func() bool { _, ok := a.Lookup(key); return !ok })
	eventually(t, "delete on node C", func() bool { _, ok := c.Lookup(key); return !ok })
	if err := a.Delete(ctx, info.ID); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := a.Delete(ctx, "no such id"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("delete of a bad id: %v", err)
	}
	if _, _, err := a.Create(ctx, "x", Role("root")); err == nil {
		t.Fatal("unknown role accepted")
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		have, need Role
		ok         bool
	}{
		{RoleViewer, RoleViewer, true},
		{RoleViewer, RoleOperator, false},
		{RoleOperator, RoleViewer, true},
		{RoleOperator, RoleAdmin, false},
		{RoleAdmin, RoleOperator, true},
		{Role(""), RoleViewer, false},
		{Role("root"), RoleViewer, false},
	}
	for _, c := range cases {
		if c.have.Allows(c.need) != c.ok {
			t.Errorf("%q allows %q != %v", c.have, c.need, c.ok)
		}
	}
}

func testNATS(t *testing.T) string { return testenv.NATS(t) }

// A key deleted on one node is refused on another within 2 s even when the
// other node's watch is stuck: the server holding its watch's consumer died,
// and an ordered consumer on a dead server goes silent rather than failing.
func TestKeyDeleteReachesStuckWatch(t *testing.T) {
	servers := testenv.NewNATSCluster(t, 3)
	byName := map[string]*server.Server{}
	for _, s := range servers {
		byName[s.Name()] = s
	}
	ctx := context.Background()

	// B reaches NATS through s1 only; the consumer of its watch must live
	// on another server, the one that will die.
	var b *KeyStore
	var victim *server.Server
	for attempt := 0; victim == nil; attempt++ {
		if attempt == 10 {
			t.Fatal("every watch consumer of B was placed on B's own server")
		}
		nc := testenv.Connect(t, servers[0].ClientURL())
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		before := testenv.ConsumerServers(t, js, "KV_"+KeyBucket)
		ks, err := NewKeyStore(ctx, js, 3)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ks.Close)
		for name, host := range testenv.ConsumerServers(t, js, "KV_"+KeyBucket) {
			if _, old := before[name]; !old && host != servers[0].Name() {
				b, victim = ks, byName[host]
			}
		}
		if victim == nil {
			ks.Close()
		}
	}
	// A reaches NATS through the server that stays up and B does not use.
	var aURL string
	for _, s := range servers[1:] {
		if s != victim {
			aURL = s.ClientURL()
		}
	}
	a, _ := newKeyStoreR(t, aURL, 3)

	info, key, err := a.Create(ctx, "ci", RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "key on node B", func() bool { _, ok := b.Lookup(key); return ok })

	killed := time.Now()
	victim.Shutdown()
	// The victim may have led the bucket: try again until the next leader
	// answers (a request lost with the old one is never answered).
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		err = a.Delete(actx, info.ID)
		cancel()
		if err == nil {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deleted := time.Now()
	for {
		if _, ok := b.Lookup(key); !ok {
			break
		}
		if time.Since(deleted) > 2*time.Second {
			t.Fatalf("key deleted on A still works on B 2 s after the delete (%s after its watch's server died)", time.Since(killed).Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("deleted %s after the server died; refused on B %s after the delete", deleted.Sub(killed).Round(time.Millisecond), time.Since(deleted).Round(time.Millisecond))
}

func newKeyStoreR(t *testing.T, url string, replicas int) (*KeyStore, jetstream.JetStream) {
	t.Helper()
	js, err := jetstream.New(testenv.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ks, err := NewKeyStore(ctx, js, replicas)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ks.Close)
	return ks, js
}
