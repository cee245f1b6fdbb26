package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/shard"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/test/testenv"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// idemDevices is the real shard host, counting the commands that reach it;
// it can hold a command until released, or fail the next ones (the 503 a
// node answers when the log is unavailable).
type idemDevices struct {
	*shard.Host
	commands atomic.Int32
	fail     atomic.Int32
	entered  chan struct{} // non-nil: a command signals here, then waits for release
	release  chan struct{}
}

func (d *idemDevices) Ask(ctx context.Context, id string, cmd proto.Message) (*pb.DeviceReply, error) {
	if _, read := cmd.(*pb.GetDevice); !read {
		d.commands.Add(1)
		if d.entered != nil {
			d.entered <- struct{}{}
			<-d.release
		}
		if d.fail.Load() > 0 {
			d.fail.Add(-1)
			return nil, errors.New("the event log is unavailable")
		}
	}
	return d.Host.Ask(ctx, id, cmd)
}

// idemFixture: one embedded NATS (private, so the bucket gets this test's
// TTL), one real shard host, and n gateway nodes, each with its own NATS
// connection and idempotency store on the shared bucket.
type idemFixture struct {
	nats  *server.Server
	host  *shard.Host
	dev   *idemDevices
	keys  *KeyStore
	nodes []*Server
}

func newIdemFixture(t *testing.T, ttl time.Duration, nodes int) *idemFixture {
	t.Helper()
	ctx := context.Background()
	host, _, srv := startTestHost(t, 4)
	quiet := quietLog
	f := &idemFixture{nats: srv, host: host, dev: &idemDevices{Host: host}}
	f.keys, _ = newKeyStore(t, srv.ClientURL())
	for i := range nodes {
		js, err := jetstream.New(testenv.Connect(t, srv.ClientURL()))
		if err != nil {
			t.Fatal(err)
		}
		idem, err := NewIdempotencyStore(ctx, js, 1, ttl, quiet)
		if err != nil {
			t.Fatal(err)
		}
		f.nodes = append(f.nodes, New(Config{Devices: f.dev, Keys: f.keys, AdminKey: testAdminKey, Node: "n" + string(rune('1'+i)),
			Log: quiet, CommandTimeout: 2 * time.Second, Idempotency: idem}))
	}
	return f
}

func (f *idemFixture) h(i int) http.Handler { return f.nodes[i].Handler() }

// deviceEvents counts the device's own events in the log.
func (f *idemFixture) deviceEvents(t *testing.T, id string) int {
	t.Helper()
	n := 0
	if err := f.host.Read(context.Background(), nil, 0, func(e events.Event) bool {
		if e.Envelope.GetAggregateKind() == events.KindDevice && e.Envelope.GetAggregateId() == id {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func sameAnswer(t *testing.T, what string, a, b resp) {
	t.Helper()
	if a.code != b.code || !bytes.Equal(a.body, b.body) {
		t.Fatalf("%s: %d %s, first answer %d %s", what, b.code, b.body, a.code, a.body)
	}
	for _, h := range []string{"Content-Type", "ETag", "Location"} {
		if a.header.Get(h) != b.header.Get(h) {
			t.Fatalf("%s: %s %q, first answer %q", what, h, b.header.Get(h), a.header.Get(h))
		}
	}
}

const idemCam = `{"id":"cam-i","name":"Gate","url":"rtsp://10.0.0.1/s","password":"hunter2"}`

func TestIdempotencyReplay(t *testing.T) {
	f := newIdemFixture(t, time.Minute, 2)
	a, b := f.h(0), f.h(1)

	first := do(t, a, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "create-cam-i")
	if first.code != 201 || first.header.Get("ETag") != `"1"` || first.header.Get("Location") != "/v1/devices/cam-i" ||
		first.header.Get(idempotentReplayedHeader) != "" {
		t.Fatalf("first create %d %v %s", first.code, first.header, first.body)
	}
	// The same request, on this node and on another: the first answer,
	// and the handler does not run again.
	for i, h := range []http.Handler{a, b, a} {
		r := do(t, h, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "create-cam-i")
		sameAnswer(t, "replay", first, r)
		if r.header.Get(idempotentReplayedHeader) != "true" {
			t.Fatalf("replay %d not marked: %v", i, r.header)
		}
	}
	if n := f.dev.commands.Load(); n != 1 {
		t.Fatalf("%d commands reached the device, want 1", n)
	}
	if n := f.deviceEvents(t, "cam-i"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}

	// Same key, another body: 422 naming the header; nothing runs.
	other := strings.Replace(idemCam, "Gate", "Yard", 1)
	r := do(t, b, "POST", "/v1/devices", testAdminKey, other, "Idempotency-Key", "create-cam-i")
	if r.code != 422 || r.problem(t)["field"] != IdempotencyKeyHeader {
		t.Fatalf("other body %d %s", r.code, r.body)
	}

	// Another caller with the same key and body never sees the admin's
	// answer: its own request runs (and finds the device).
	_, opKey, err := f.keys.Create(context.Background(), "ops", RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, a, "POST", "/v1/devices", opKey, idemCam, "Idempotency-Key", "create-cam-i")
	if r.code != 409 || r.problem(t)["field"] != "id" {
		t.Fatalf("other caller %d %s", r.code, r.body)
	}
	// A 4xx is final: replayed too (the device is not asked again).
	again := do(t, b, "POST", "/v1/devices", opKey, idemCam, "Idempotency-Key", "create-cam-i")
	sameAnswer(t, "4xx replay", r, again)
	if n := f.dev.commands.Load(); n != 2 {
		t.Fatalf("%d commands, want 2", n)
	}

	// PATCH and DELETE: one event each however often they are sent.
	patch := func(h http.Handler) resp {
		return do(t, h, "PATCH", "/v1/devices/cam-i", testAdminKey, `{"name":"Gate 2"}`,
			"Idempotency-Key", "rename-1", "If-Match", `"1"`)
	}
	p1 := patch(a)
	if p1.code != 200 || p1.header.Get("ETag") != `"2"` {
		t.Fatalf("patch %d %s", p1.code, p1.body)
	}
	sameAnswer(t, "patch replay", p1, patch(b))
	del := func(h http.Handler) resp {
		return do(t, h, "DELETE", "/v1/devices/cam-i", testAdminKey, "", "Idempotency-Key", "remove-1")
	}
	d1 := del(b)
	if d1.code != 204 {
		t.Fatalf("delete %d %s", d1.code, d1.body)
	}
	sameAnswer(t, "delete replay", d1, del(a))
	if n := f.deviceEvents(t, "cam-i"); n != 3 {
		t.Fatalf("%d events after create, patch, delete (each sent twice or more), want 3", n)
	}

	// Without the header, requests run every time, as before.
	before := f.dev.commands.Load()
	for range 2 {
		if r := do(t, a, "DELETE", "/v1/devices/cam-i", testAdminKey, ""); r.code != 404 || r.header.Get(idempotentReplayedHeader) != "" {
			t.Fatalf("delete without key %d %s", r.code, r.body)
		}
	}
	if n := f.dev.commands.Load() - before; n != 2 {
		t.Fatalf("%d commands without the header, want 2", n)
	}

	// The bucket holds neither the client's key nor the device's secrets.
	js, err := jetstream.New(testenv.Connect(t, f.nats.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), IdempotencyBucket)
	if err != nil {
		t.Fatal(err)
	}
	lister, err := kv.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range lister.Keys() {
		n++
		if len(k) != 64 || strings.Contains(k, "create") {
			t.Fatalf("KV key %q", k)
		}
		e, err := kv.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if v := string(e.Value()); strings.Contains(v, "Gate") || strings.Contains(v, "rtsp://") {
			t.Fatalf("record holds the answer in clear: %q", v)
		}
	}
	if n != 4 { // admin create, operator create, patch, delete
		t.Fatalf("%d records, want 4", n)
	}
}

func TestIdempotencyKeyCreationNotInClear(t *testing.T) {
	f := newIdemFixture(t, time.Minute, 2)
	body := `{"name":"ci","role":"viewer"}`
	r := do(t, f.h(0), "POST", "/v1/keys", testAdminKey, body, "Idempotency-Key", "k1")
	if r.code != 201 {
		t.Fatalf("create key %d %s", r.code, r.body)
	}
	sameAnswer(t, "key replay", r, do(t, f.h(1), "POST", "/v1/keys", testAdminKey, body, "Idempotency-Key", "k1"))
	if n := len(f.keys.List()); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
	js, _ := jetstream.New(testenv.Connect(t, f.nats.ClientURL()))
	kv, err := js.KeyValue(context.Background(), IdempotencyBucket)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Key string }
	if err := json.Unmarshal(r.body, &created); err != nil || created.Key == "" {
		t.Fatalf("created %s %v", r.body, err)
	}
	lister, _ := kv.ListKeys(context.Background())
	for k := range lister.Keys() {
		e, _ := kv.Get(context.Background(), k)
		if bytes.Contains(e.Value(), []byte(created.Key)) || bytes.Contains(e.Value(), []byte(created.Key[3:])) {
			t.Fatal("the idempotency record holds the new API key in clear")
		}
	}
}

func TestIdempotencyInvalidKey(t *testing.T) {
	f := newIdemFixture(t, time.Minute, 1)
	h := f.h(0)
	for name, key := range map[string]string{
		"too long":  strings.Repeat("k", 65),
		"non-ASCII": "clé-1",
		"control":   "a\x01b",
		"empty":     "",
	} {
		r := do(t, h, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", key)
		if r.code != 400 || r.problem(t)["field"] != IdempotencyKeyHeader {
			t.Errorf("%s: %d %s", name, r.code, r.body)
		}
	}
	req := httptest.NewRequest("POST", "/v1/devices", strings.NewReader(idemCam))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	req.Header.Add("Idempotency-Key", "a")
	req.Header.Add("Idempotency-Key", "b")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if r := (resp{rec.Code, rec.Header(), rec.Body.Bytes()}); r.code != 400 || r.problem(t)["field"] != IdempotencyKeyHeader {
		t.Errorf("two keys: %d %s", r.code, r.body)
	}
	if n := f.dev.commands.Load(); n != 0 {
		t.Fatalf("%d commands ran with an invalid key", n)
	}
	// 64 printable characters (spaces included) are a key.
	key := strings.Repeat("k", 60) + " ~!/"
	if r := do(t, h, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", key); r.code != 201 {
		t.Fatalf("64-char key %d %s", r.code, r.body)
	}
	// Reads ignore the header.
	if r := do(t, h, "GET", "/v1/devices/cam-i", testAdminKey, "", "Idempotency-Key", strings.Repeat("k", 65)); r.code != 200 {
		t.Fatalf("GET with a bad key %d %s", r.code, r.body)
	}
}

func TestIdempotencyExpiry(t *testing.T) {
	ttl := time.Second
	f := newIdemFixture(t, ttl, 1)
	h := f.h(0)
	first := do(t, h, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "exp")
	if first.code != 201 {
		t.Fatalf("create %d %s", first.code, first.body)
	}
	sameAnswer(t, "replay within the TTL", first, do(t, h, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "exp"))
	// Past the TTL the same key runs again: the device exists now (409).
	time.Sleep(ttl)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := do(t, h, "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "exp")
		if r.code == 409 {
			break
		}
		if r.code != 201 || time.Now().After(deadline) {
			t.Fatalf("after the TTL %d %s", r.code, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := f.dev.commands.Load(); n != 2 {
		t.Fatalf("%d commands, want 2", n)
	}
	if n := f.deviceEvents(t, "cam-i"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

func TestIdempotencyConcurrent(t *testing.T) {
	f := newIdemFixture(t, time.Minute, 2)
	f.dev.entered, f.dev.release = make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	answers := make([]resp, 2)
	send := func(i int) {
		defer wg.Done()
		answers[i] = do(t, f.h(i), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "together")
	}
	wg.Add(1)
	go send(0)
	<-f.dev.entered // node 1 runs the command...
	wg.Add(1)
	go send(1) // ...while the same request reaches node 2
	secondDone := make(chan struct{})
	go func() { wg.Wait(); close(secondDone) }()
	select {
	case <-f.dev.entered:
		t.Fatal("the second request ran the command too")
	case <-secondDone:
		t.Fatal("answered while the first request was still running")
	case <-time.After(300 * time.Millisecond): // node 2 waits
	}
	close(f.dev.release)
	<-secondDone
	if answers[0].code != 201 {
		t.Fatalf("first %d %s", answers[0].code, answers[0].body)
	}
	sameAnswer(t, "concurrent", answers[0], answers[1])
	if answers[1].header.Get(idempotentReplayedHeader) != "true" {
		t.Fatalf("second answer not a replay: %v", answers[1].header)
	}
	if n := f.dev.commands.Load(); n != 1 {
		t.Fatalf("%d commands, want 1", n)
	}
	if n := f.deviceEvents(t, "cam-i"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}

	// A repeat with another body while one runs is refused at once.
	f.dev.entered, f.dev.release = make(chan struct{}), make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		do(t, f.h(0), "PATCH", "/v1/devices/cam-i", testAdminKey, `{"name":"x"}`, "Idempotency-Key", "p")
	}()
	<-f.dev.entered
	start := time.Now()
	r := do(t, f.h(1), "PATCH", "/v1/devices/cam-i", testAdminKey, `{"name":"y"}`, "Idempotency-Key", "p")
	if r.code != 422 || r.problem(t)["field"] != IdempotencyKeyHeader || time.Since(start) > time.Second {
		t.Fatalf("other body while running: %d %s after %v", r.code, r.body, time.Since(start))
	}
	close(f.dev.release)
	wg.Wait()
}

func TestIdempotencyFailuresNotStored(t *testing.T) {
	f := newIdemFixture(t, time.Minute, 2)
	f.dev.fail.Store(1)
	r := do(t, f.h(0), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "retry-me")
	if r.code != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("failing create %d %s", r.code, r.body)
	}
	r.problem(t)
	// The retry runs (on any node) and its answer is the one kept.
	r = do(t, f.h(1), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "retry-me")
	if r.code != 201 || r.header.Get(idempotentReplayedHeader) != "" {
		t.Fatalf("retry %d %s", r.code, r.body)
	}
	sameAnswer(t, "after the retry", r, do(t, f.h(0), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "retry-me"))
	if n := f.dev.commands.Load(); n != 2 {
		t.Fatalf("%d commands, want 2", n)
	}
	if n := f.deviceEvents(t, "cam-i"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}

	// A handler that panics frees its key too.
	var runs atomic.Int32
	s := f.nodes[0]
	s.e.POST("/v1/test/flaky", func(c echo.Context) error {
		if runs.Add(1) == 1 {
			panic("boom")
		}
		return c.JSON(http.StatusCreated, map[string]int32{"run": runs.Load()})
	}, s.withIdempotency(s.require(RoleOperator)))
	if r := do(t, s.Handler(), "POST", "/v1/test/flaky", testAdminKey, `{}`, "Idempotency-Key", "f"); r.code != 500 {
		t.Fatalf("panic %d %s", r.code, r.body)
	}
	r = do(t, s.Handler(), "POST", "/v1/test/flaky", testAdminKey, `{}`, "Idempotency-Key", "f")
	if r.code != 201 || string(r.body) != "{\"run\":2}\n" {
		t.Fatalf("after the panic %d %q", r.code, r.body)
	}
	sameAnswer(t, "after the panic", r, do(t, s.Handler(), "POST", "/v1/test/flaky", testAdminKey, `{}`, "Idempotency-Key", "f"))
	if n := runs.Load(); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

func TestIdempotencyStoreUnavailable(t *testing.T) {
	// No store: the header is refused rather than ignored.
	s, _ := newTestServer(t, nil)
	r := do(t, s.Handler(), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "k")
	if r.code != 503 {
		t.Fatalf("no store %d %s", r.code, r.body)
	}
	r.problem(t)

	// NATS down: 503, and the command does not run.
	f := newIdemFixture(t, time.Minute, 1)
	f.nats.Shutdown()
	r = do(t, f.h(0), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "k")
	if r.code != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("NATS down %d %s", r.code, r.body)
	}
	r.problem(t)
	if n := f.dev.commands.Load(); n != 0 {
		t.Fatalf("%d commands ran without the store", n)
	}
}

func TestIdempotencyRecordFormat(t *testing.T) {
	aead, err := bodySealer("ak_x")
	if err != nil {
		t.Fatal(err)
	}
	sealed := aead.SealBytes([]byte("{\"a\":\"line\\nbreak\"}\n"), []byte("kv1"))
	in := idemRecord{State: idemDone, Request: "h", Status: 201, Header: map[string]string{"ETag": `"1"`}, body: sealed}
	v, err := in.encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeIdemRecord(v)
	if err != nil || out.Status != 201 || out.Header["ETag"] != `"1"` {
		t.Fatalf("decoded %+v %v", out, err)
	}
	body, err := aead.OpenBytes(out.body, []byte("kv1"))
	if err != nil || string(body) != "{\"a\":\"line\\nbreak\"}\n" {
		t.Fatalf("body %q %v", body, err)
	}
	if _, err := aead.OpenBytes(out.body, []byte("kv2")); err == nil {
		t.Fatal("a body opened under another KV key")
	}
	other, _ := bodySealer("ak_y")
	if _, err := other.OpenBytes(out.body, []byte("kv1")); err == nil {
		t.Fatal("a body opened with another caller's key")
	}
	if a, b := idempotencyKVKey("k1", "POST", "/v1/devices", "x"), idempotencyKVKey("k2", "POST", "/v1/devices", "x"); a == b || len(a) != 64 {
		t.Fatalf("kv keys %s %s", a, b)
	}
	if idempotencyKVKey("a", "POST", "/v1/b", "c") == idempotencyKVKey("a", "POST", "/v1/", "bc") {
		t.Fatal("ambiguous kv key")
	}
}

func TestIdempotencyAbandonedReservation(t *testing.T) {
	f := newIdemFixture(t, time.Minute, 1)
	s := f.nodes[0]
	if !s.idem.keyTTL {
		t.Fatal("the bucket has no per-key TTL")
	}
	ctx := context.Background()
	key := idempotencyKVKey("admin", "POST", "/v1/devices", "dead")
	sum := sha256.Sum256([]byte(idemCam))
	running, err := idemRecord{State: idemRunning, Request: hex.EncodeToString(sum[:]), Node: "gone"}.encode()
	if err != nil {
		t.Fatal(err)
	}

	// A request still running elsewhere: the repeat waits (the command
	// timeout), then 409 with Retry-After; nothing runs.
	if _, err := s.idem.kv.Create(ctx, key, running, jetstream.KeyTTL(time.Minute)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := do(t, s.Handler(), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "dead")
	if r.code != 409 || r.problem(t)["field"] != IdempotencyKeyHeader || r.header.Get("Retry-After") != "1" {
		t.Fatalf("still running: %d %s", r.code, r.body)
	}
	if waited := time.Since(start); waited < s.timeout {
		t.Fatalf("answered after %v, before the command timeout %v", waited, s.timeout)
	}
	if n := f.dev.commands.Load(); n != 0 {
		t.Fatalf("%d commands ran while the key was reserved", n)
	}

	// A node that died mid-request: its reservation expires after its
	// lease and the waiting repeat runs the command.
	if err := s.idem.kv.Purge(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.idem.kv.Create(ctx, key, running, jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	s.timeout = 5 * time.Second
	r = do(t, s.Handler(), "POST", "/v1/devices", testAdminKey, idemCam, "Idempotency-Key", "dead")
	if r.code != 201 || r.header.Get(idempotentReplayedHeader) != "" {
		t.Fatalf("after the lease %d %s", r.code, r.body)
	}
	if n := f.dev.commands.Load(); n != 1 {
		t.Fatalf("%d commands, want 1", n)
	}
}
