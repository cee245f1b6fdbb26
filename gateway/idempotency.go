package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/secret"
	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Client idempotency (Idempotency-Key on POST/PUT/PATCH/DELETE under /v1).
//
// A record per (caller, method, path, key) lives in the KV bucket
// argus_idempotency, so every node of the cluster sees it. The request first
// reserves the record with kv.Create (a "running" record that expires on its
// own after a lease, so a node that dies mid-request frees the key); only
// the request that created it runs the handler. Its final answer (2xx or
// 4xx) replaces the reservation and is replayed to every repeat until the
// bucket's TTL removes it; a 5xx (or a panic) deletes the reservation so a
// retry runs again.

// IdempotencyBucket is the NATS KV bucket of Idempotency-Key records.
const IdempotencyBucket = "argus_idempotency"

// DefaultIdempotencyTTL is how long an answer is replayed by default.
const DefaultIdempotencyTTL = 10 * time.Minute

// IdempotencyKeyHeader is the request header naming a client's key.
const IdempotencyKeyHeader = "Idempotency-Key"

// idempotentReplayedHeader marks an answer served from the store.
const idempotentReplayedHeader = "Idempotent-Replayed"

const maxIdempotencyKey = 64

// replayedHeaders are the response headers a replay carries (besides the
// status and the body).
var replayedHeaders = []string{echo.HeaderContentType, "ETag", echo.HeaderLocation}

var idempotencyResults = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "argus_http_idempotency_total",
	Help: "Requests carrying an Idempotency-Key, by outcome: stored, not_stored (5xx or unstorable), replayed, mismatch, in_progress, unavailable.",
}, []string{"result"})

// IdempotencyStore holds the Idempotency-Key records of the whole cluster in
// the KV bucket argus_idempotency.
type IdempotencyStore struct {
	kv  jetstream.KeyValue
	ttl time.Duration
	// keyTTL: the bucket allows per-key TTLs, so a reservation expires
	// after its lease rather than with the bucket's TTL.
	keyTTL bool
	log    *slog.Logger
}

// NewIdempotencyStore opens (or creates) the argus_idempotency bucket with
// the given replicas; ttl (0: DefaultIdempotencyTTL) is the bucket's TTL, how
// long an answer is replayed. A bucket that already exists is used as it is
// (its TTL wins; a difference is logged).
func NewIdempotencyStore(ctx context.Context, js jetstream.JetStream, replicas int, ttl time.Duration, log *slog.Logger) (*IdempotencyStore, error) {
	if ttl <= 0 {
		ttl = DefaultIdempotencyTTL
	}
	if log == nil {
		log = slog.Default()
	}
	cfg := jetstream.KeyValueConfig{
		Bucket:      IdempotencyBucket,
		Description: "Argus Idempotency-Key records (answers replayed to repeated commands)",
		History:     1,
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, replicas),
		// Per-key TTLs (reservations expire after their lease); the
		// markers left when a key expires are kept for a second.
		LimitMarkerTTL: time.Second,
	}
	kv, err := events.EnsureKeyValue(ctx, js, cfg)
	if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) { // nats-server < 2.11
		cfg.LimitMarkerTTL = 0
		kv, err = events.EnsureKeyValue(ctx, js, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	st := &IdempotencyStore{kv: kv, ttl: ttl, log: log}
	status, err := events.Retry(ctx, "kv "+IdempotencyBucket+" status", kv.Status)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	st.keyTTL = status.LimitMarkerTTL() > 0
	if have := status.TTL(); have != ttl {
		log.Warn("idempotency bucket exists with another TTL; it is used as it is",
			"bucket", IdempotencyBucket, "ttl", have, "wanted", ttl)
		st.ttl = have
	}
	if !st.keyTTL {
		log.Warn("idempotency bucket has no per-key TTL: a reservation left by a node that died holds its key until the bucket TTL",
			"bucket", IdempotencyBucket, "ttl", st.ttl)
	}
	return st, nil
}

// TTL is how long answers are replayed (the bucket's TTL).
func (st *IdempotencyStore) TTL() time.Duration { return st.ttl }

const (
	idemRunning = "running"
	idemDone    = "done"
)

// idemRecord is the KV value: this JSON on one line, then (for a final
// answer) a newline and the response body sealed with a key derived from
// the caller's API key, so the bucket never holds a body in clear (the
// answer to POST /v1/keys carries a new key).
type idemRecord struct {
	State   string            `json:"state"`          // running or done
	Request string            `json:"request_sha256"` // hex SHA-256 of the request body
	Node    string            `json:"node,omitempty"` // the node that ran it
	Status  int               `json:"status,omitempty"`
	Header  map[string]string `json:"header,omitempty"`
	body    []byte            // sealed response body (done only)
}

func (r idemRecord) encode() ([]byte, error) {
	b, err := json.Marshal(r) // compact: never holds a raw newline
	if err != nil {
		return nil, err
	}
	if r.State == idemDone {
		b = append(b, '\n')
		b = append(b, r.body...)
	}
	return b, nil
}

func decodeIdemRecord(v []byte) (idemRecord, error) {
	head, body, _ := bytes.Cut(v, []byte{'\n'})
	var r idemRecord
	if err := json.Unmarshal(head, &r); err != nil {
		return r, err
	}
	if r.State != idemRunning && r.State != idemDone || r.Request == "" {
		return r, fmt.Errorf("bad idempotency record state %q", r.State)
	}
	r.body = body
	return r, nil
}

// idempotencyKVKey is the KV key of a request: the hex SHA-256 of the
// caller's key id, the method, the path and the client's key (each length
// prefixed), so callers never share records and no raw key reaches NATS.
func idempotencyKVKey(keyID, method, path, key string) string {
	h := sha256.New()
	for _, part := range []string{keyID, method, path, key} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// validIdempotencyKey: 1..64 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// bodySealer seals stored bodies for one caller: under a key derived from
// the caller's API key, which only that caller's requests can derive (the
// key store holds plain SHA-256 digests, not this). Bodies are bound to
// their KV key.
func bodySealer(apiKey string) (*secret.Sealer, error) {
	return secret.NewSealerFor([]byte(apiKey), "idempotency/v1")
}

func idempotentMethod(m string) bool {
	switch m {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// withIdempotency runs Idempotency-Key handling right after auth (it needs
// the principal auth sets): routes take withIdempotency(s.require(role)).
func (s *Server) withIdempotency(auth echo.MiddlewareFunc) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return auth(s.idempotency(next))
	}
}

// Bounds, relative to the command timeout (10 s by default): a repeat waits
// up to one for the first request's answer (then 409, retry); the first
// request's handler gets two; its reservation expires after three, so a
// node that died mid-request frees the key.
func (s *Server) idemLease() time.Duration { return max(3*s.timeout, 5*time.Second) }

// idempotency is the Idempotency-Key middleware (see the top of this file).
// Requests without the header, other methods and paths outside /v1 pass
// through untouched, as do requests another node forwarded (that node
// holds the reservation and stores the answer).
func (s *Server) idempotency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !idempotentMethod(req.Method) || !strings.HasPrefix(req.URL.Path, "/v1/") {
			return next(c)
		}
		vals := req.Header.Values(IdempotencyKeyHeader)
		if len(vals) == 0 || req.Header.Get(forwardedHeader) != "" {
			return next(c)
		}
		if len(vals) > 1 || !validIdempotencyKey(vals[0]) {
			return badRequest(IdempotencyKeyHeader, "%s must be one value of 1 to %d printable ASCII characters",
				IdempotencyKeyHeader, maxIdempotencyKey)
		}
		p, ok := principalOf(c)
		apiKey, hasKey := bearer(req.Header.Get(echo.HeaderAuthorization))
		if !ok || !hasKey { // routes add it after auth: cannot happen
			return problem(http.StatusInternalServerError, "", "internal error")
		}
		if s.idem == nil {
			idempotencyResults.WithLabelValues("unavailable").Inc()
			return unavailable("%s is not supported: this node has no idempotency store", IdempotencyKeyHeader)
		}
		body, err := io.ReadAll(req.Body) // already limited by BodyLimit
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) {
				return httpErrorProblem(he)
			}
			return badRequest("body", "cannot read request body")
		}
		if len(body) > maxBody {
			return problem(http.StatusRequestEntityTooLarge, "body", "request body exceeds %s", bodyLimitText)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		aead, err := bodySealer(apiKey)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		r := &idemRequest{s: s, st: s.idem, c: c, aead: aead,
			key:  idempotencyKVKey(p.KeyID, req.Method, req.URL.Path, vals[0]),
			hash: hex.EncodeToString(sum[:])}
		return r.serve(next)
	}
}

// idemRequest is one request carrying an Idempotency-Key.
type idemRequest struct {
	s    *Server
	st   *IdempotencyStore
	c    echo.Context
	aead *secret.Sealer
	key  string // KV key
	hash string // request body SHA-256
}

func (r *idemRequest) kvContext() (context.Context, context.CancelFunc) {
	return contextWithTimeout(r.c, r.s.timeout)
}

func (r *idemRequest) unavailable(what string, err error) error {
	r.s.log.Warn("idempotency store", "request_id", requestID(r.c), "op", what, "err", err)
	idempotencyResults.WithLabelValues("unavailable").Inc()
	return unavailable("the idempotency store did not answer; retry")
}

// serve reserves the key and runs the handler, or answers what the record
// says: the stored answer, 422 for another body, or (after waiting for a
// running request) 409.
func (r *idemRequest) serve(next echo.HandlerFunc) error {
	running, err := idemRecord{State: idemRunning, Request: r.hash, Node: r.s.node}.encode()
	if err != nil {
		return err
	}
	var opts []jetstream.KVCreateOpt
	if r.st.keyTTL {
		opts = append(opts, jetstream.KeyTTL(r.s.idemLease()))
	}
	deadline := time.Now().Add(r.s.timeout)
	poll := 5 * time.Millisecond
	for {
		ctx, cancel := r.kvContext()
		rev, err := r.st.kv.Create(ctx, r.key, running, opts...)
		cancel()
		if err == nil {
			return r.run(next, rev)
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return r.unavailable("reserve", err)
		}
		ctx, cancel = r.kvContext()
		e, err := r.st.kv.Get(ctx, r.key)
		cancel()
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted):
			// Released or expired since: reserve again (below, after the
			// deadline check, so a flapping key cannot spin forever).
		case err != nil:
			return r.unavailable("read", err)
		default:
			rec, derr := decodeIdemRecord(e.Value())
			if derr != nil {
				r.s.log.Error("idempotency record unreadable", "request_id", requestID(r.c), "err", derr)
				return problem(http.StatusInternalServerError, "", "internal error")
			}
			if rec.Request != r.hash {
				idempotencyResults.WithLabelValues("mismatch").Inc()
				return problem(http.StatusUnprocessableEntity, IdempotencyKeyHeader,
					"this %s was already used with another request body", IdempotencyKeyHeader)
			}
			if rec.State == idemDone {
				return r.replay(rec)
			}
		}
		if !time.Now().Before(deadline) {
			idempotencyResults.WithLabelValues("in_progress").Inc()
			p := problem(http.StatusConflict, IdempotencyKeyHeader,
				"a request with this %s is still in progress; retry", IdempotencyKeyHeader)
			p.RetryAfter = 1
			return p
		}
		select {
		case <-r.c.Request().Context().Done():
			return unavailable("the request was cancelled")
		case <-time.After(poll):
		}
		poll = min(2*poll, 100*time.Millisecond)
	}
}

// run runs the handler under the reservation rev, captures its answer
// while it streams to the client, and stores it when it is final.
func (r *idemRequest) run(next echo.HandlerFunc, rev uint64) error {
	c := r.c
	res := c.Response()
	req := c.Request()
	cw := &captureWriter{ResponseWriter: res.Writer, limit: maxBody}
	hctx, cancel := context.WithTimeout(req.Context(), 2*r.s.timeout) // before the lease ends
	kept := false
	defer func() {
		cancel()
		res.Writer = cw.ResponseWriter
		c.SetRequest(req)
		if !kept { // 5xx, unstorable, or a panic on its way up
			r.release(rev)
		}
	}()
	res.Writer = cw
	c.SetRequest(req.WithContext(hctx))

	if err := next(c); err != nil {
		c.Error(err) // answer now, through cw
	}

	status := res.Status
	if !storable(status, res.Header()) || cw.overflow {
		idempotencyResults.WithLabelValues("not_stored").Inc()
		return nil
	}
	rec := idemRecord{State: idemDone, Request: r.hash, Node: r.s.node, Status: status, Header: map[string]string{}}
	for _, h := range replayedHeaders {
		if v := res.Header().Get(h); v != "" {
			rec.Header[h] = v
		}
	}
	sealed := r.aead.SealBytes(cw.buf.Bytes(), []byte(r.key))
	rec.body = sealed
	v, err := rec.encode()
	if err != nil {
		return nil
	}
	// The client already has the answer: store it even if it hung up.
	ctx, cancelStore := context.WithTimeout(context.WithoutCancel(req.Context()), r.s.timeout)
	defer cancelStore()
	if _, err := r.st.kv.Update(ctx, r.key, v, rev); err != nil {
		// A lost reservation (it outlived its lease) or KV trouble: a
		// retry runs the command again.
		r.s.log.Warn("idempotency: answer not stored", "request_id", requestID(c), "status", status, "err", err)
		idempotencyResults.WithLabelValues("not_stored").Inc()
		return nil
	}
	kept = true
	idempotencyResults.WithLabelValues("stored").Inc()
	return nil
}

// storable: final answers only, 2xx and 4xx, except those that ask for a
// retry (408, 429, or any with Retry-After).
func storable(status int, h http.Header) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status >= 400 && status < 500:
		return status != http.StatusRequestTimeout && status != http.StatusTooManyRequests && h.Get("Retry-After") == ""
	}
	return false
}

// release deletes the reservation rev (only if it is still that one), so
// a retry runs again.
func (r *idemRequest) release(rev uint64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.c.Request().Context()), r.s.timeout)
	defer cancel()
	if err := r.st.kv.Delete(ctx, r.key, jetstream.LastRevision(rev)); err != nil {
		r.s.log.Warn("idempotency: reservation not released; it expires with its lease",
			"request_id", requestID(r.c), "err", err)
	}
}

// replay answers the stored answer.
func (r *idemRequest) replay(rec idemRecord) error {
	body, err := r.aead.OpenBytes(rec.body, []byte(r.key))
	if err != nil {
		// Same key id, another secret: the admin key changed since.
		idempotencyResults.WithLabelValues("mismatch").Inc()
		return problem(http.StatusUnprocessableEntity, IdempotencyKeyHeader,
			"this %s was used with another credential; use a new key", IdempotencyKeyHeader)
	}
	idempotencyResults.WithLabelValues("replayed").Inc()
	res := r.c.Response()
	for k, v := range rec.Header {
		res.Header().Set(k, v)
	}
	res.Header().Set(idempotentReplayedHeader, "true")
	res.WriteHeader(rec.Status)
	if len(body) > 0 {
		_, _ = res.Write(body)
	}
	return nil
}

// captureWriter passes everything to the client and keeps a copy of the
// body (up to limit; beyond it the answer is not stored).
type captureWriter struct {
	http.ResponseWriter
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if !w.overflow {
		if w.buf.Len()+len(b) > w.limit {
			w.overflow = true
			w.buf = bytes.Buffer{}
		} else {
			w.buf.Write(b)
		}
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming answers streaming.
func (w *captureWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
