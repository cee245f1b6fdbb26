package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/kvwatch"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// KeyBucket is the NATS KV bucket holding the API keys (hashes only).
const KeyBucket = "argus_keys"

// keyCheck is how often the key watcher asks the server for the bucket's
// last revision. Keys change rarely, so silence cannot tell a stuck watch;
// this can: a key deleted on one node is refused on every node within
// keyCheck + the watcher's lag (500ms) + a new watch, about 1.2 s, even
// when the node's watch was stuck.
const keyCheck = 500 * time.Millisecond

// Role is what a key may do. Each role includes the ones below it.
type Role string

const (
	RoleViewer   Role = "viewer"   // GET reads
	RoleOperator Role = "operator" // + device (and later plan) commands
	RoleAdmin    Role = "admin"    // all, including key management
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r is at least need.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole accepts "viewer", "operator" or "admin".
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, r.rank() > 0
}

// KeyInfo describes a managed API key; never the key itself.
type KeyInfo struct {
	ID        string
	Name      string
	Role      Role
	CreatedAt time.Time
}

// ErrKeyNotFound is returned by Delete for an unknown id.
var ErrKeyNotFound = errors.New("gateway: api key not found")

// storedKey is the KV value: only the SHA-256 of the key is stored.
type storedKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Hash      string    `json:"hash"` // hex SHA-256 of the key
	CreatedAt time.Time `json:"created_at"`
}

func (s storedKey) info() KeyInfo {
	return KeyInfo{ID: s.ID, Name: s.Name, Role: s.Role, CreatedAt: s.CreatedAt}
}

// KeyStore holds the managed API keys in the KV bucket argus_keys and keeps
// an in-memory index (hash → key) refreshed by a KV watcher, so
// authentication needs no round trip and a key deleted on one node stops
// working on every node as soon as the delete reaches its watcher.
type KeyStore struct {
	kv  jetstream.KeyValue
	log *slog.Logger
	// initial collects a watch's initial values, swapped in as a whole
	// once they are in (only the watcher's goroutine touches it).
	initial map[string]storedKey

	mu     sync.RWMutex
	byHash map[[sha256.Size]byte]storedKey
	byID   map[string]storedKey
	// gone holds ids deleted through this node: ids are never reused, so a
	// late put of a deleted id (watcher lag) never resurrects it.
	gone map[string]struct{}

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// NewKeyStore opens (or creates) the argus_keys bucket, loads every key and
// starts the watcher. It returns once the initial keys are loaded.
func NewKeyStore(ctx context.Context, js jetstream.JetStream, replicas int) (*KeyStore, error) {
	kv, err := openKeyBucket(ctx, js, replicas)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	ks := &KeyStore{
		kv:      kv,
		log:     slog.Default(),
		initial: map[string]storedKey{},
		byHash:  map[[sha256.Size]byte]storedKey{},
		byID:    map[string]storedKey{},
		gone:    map[string]struct{}{},
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	ready := make(chan struct{})
	readyOnce := sync.OnceFunc(func() { close(ready) })
	w := kvwatch.New(kv, ks.apply, kvwatch.WithLog(ks.log), kvwatch.WithServerCheck(keyCheck),
		kvwatch.OnCurrent(func() { ks.current(); readyOnce() }))
	go func() { defer close(ks.done); w.Run(wctx) }()
	select {
	case <-ready:
		return ks, nil
	case <-ctx.Done():
		ks.Close()
		return nil, fmt.Errorf("gateway: load %s: %w", KeyBucket, ctx.Err())
	}
}

// openKeyBucket opens the key bucket, creating it when missing (a bucket an
// operator created, e.g. with other replicas, is used as it is).
func openKeyBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := events.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      KeyBucket,
		Description: "Argus API keys (SHA-256 hashes only)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, replicas),
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return kv, nil
}

// apply is the watcher's callback. Initial values are collected aside (a
// watch started again delivers them all again) and swapped in by current.
func (ks *KeyStore) apply(e jetstream.KeyValueEntry, initial bool) {
	var sk storedKey
	put := e.Operation() == jetstream.KeyValuePut
	if put {
		if err := json.Unmarshal(e.Value(), &sk); err != nil || sk.ID == "" {
			ks.log.Warn("api key watcher: bad entry ignored", "bucket", KeyBucket, "key", e.Key(), "err", err)
			return
		}
		sk.ID = e.Key()
	}
	switch {
	case initial && put:
		ks.initial[e.Key()] = sk
	case initial:
		delete(ks.initial, e.Key())
	case put:
		ks.add(sk)
	default:
		ks.remove(e.Key())
	}
}

// current swaps in the index built from a watch's initial values.
func (ks *KeyStore) current() {
	ks.replace(ks.initial)
	ks.initial = map[string]storedKey{}
}

func (ks *KeyStore) replace(entries map[string]storedKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.byHash = map[[sha256.Size]byte]storedKey{}
	ks.byID = map[string]storedKey{}
	for _, sk := range entries {
		ks.addLocked(sk)
	}
}

func (ks *KeyStore) add(sk storedKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.addLocked(sk)
}

func (ks *KeyStore) addLocked(sk storedKey) {
	if _, deleted := ks.gone[sk.ID]; deleted {
		return
	}
	h, err := hex.DecodeString(sk.Hash)
	if err != nil || len(h) != sha256.Size {
		ks.log.Warn("api key watcher: bad hash ignored", "bucket", KeyBucket, "key", sk.ID)
		return
	}
	if old, ok := ks.byID[sk.ID]; ok {
		delete(ks.byHash, mustHash(old.Hash))
	}
	ks.byID[sk.ID] = sk
	ks.byHash[[sha256.Size]byte(h)] = sk
}

func (ks *KeyStore) remove(id string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if old, ok := ks.byID[id]; ok {
		delete(ks.byHash, mustHash(old.Hash))
		delete(ks.byID, id)
	}
}

func mustHash(s string) [sha256.Size]byte {
	var out [sha256.Size]byte
	h, err := hex.DecodeString(s)
	if err == nil && len(h) == sha256.Size {
		copy(out[:], h)
	}
	return out
}

// Close stops the watcher.
func (ks *KeyStore) Close() {
	ks.once.Do(func() {
		ks.cancel()
		<-ks.done
	})
}

// Lookup authenticates a presented key: its SHA-256 is looked up in the
// in-memory index (no round trip).
func (ks *KeyStore) Lookup(key string) (KeyInfo, bool) {
	if ks == nil || !strings.HasPrefix(key, keyPrefix) {
		return KeyInfo{}, false
	}
	h := sha256.Sum256([]byte(key))
	ks.mu.RLock()
	sk, ok := ks.byHash[h]
	ks.mu.RUnlock()
	if !ok {
		return KeyInfo{}, false
	}
	return sk.info(), true
}

// List returns every key, oldest first.
func (ks *KeyStore) List() []KeyInfo {
	ks.mu.RLock()
	out := make([]KeyInfo, 0, len(ks.byID))
	for _, sk := range ks.byID {
		out = append(out, sk.info())
	}
	ks.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Create makes a new key and returns it in clear, the only time it exists
// outside the client: the bucket stores its SHA-256 only.
func (ks *KeyStore) Create(ctx context.Context, name string, role Role) (KeyInfo, string, error) {
	if _, ok := ParseRole(string(role)); !ok {
		return KeyInfo{}, "", fmt.Errorf("gateway: unknown role %q", role)
	}
	key, err := newAPIKey()
	if err != nil {
		return KeyInfo{}, "", err
	}
	h := sha256.Sum256([]byte(key))
	sk := storedKey{
		ID:        uuid.NewString(),
		Name:      name,
		Role:      role,
		Hash:      hex.EncodeToString(h[:]),
		CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	b, err := json.Marshal(sk)
	if err != nil {
		return KeyInfo{}, "", err
	}
	if _, err := ks.kv.Create(ctx, sk.ID, b); err != nil {
		return KeyInfo{}, "", fmt.Errorf("gateway: store api key: %w", err)
	}
	ks.add(sk) // read-your-writes on this node; the watcher repeats it
	return sk.info(), key, nil
}

// Delete removes a key everywhere: every node's watcher drops it.
func (ks *KeyStore) Delete(ctx context.Context, id string) error {
	if _, err := ks.kv.Get(ctx, id); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
			return ErrKeyNotFound
		}
		return fmt.Errorf("gateway: read api key: %w", err)
	}
	if err := ks.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("gateway: delete api key: %w", err)
	}
	ks.mu.Lock()
	ks.gone[id] = struct{}{}
	ks.mu.Unlock()
	ks.remove(id)
	return nil
}

const keyPrefix = "ak_"

// newAPIKey is "ak_" + 40 lowercase hex characters (160 random bits).
func newAPIKey() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return keyPrefix + hex.EncodeToString(b[:]), nil
}

// Has reports whether the key with id exists (tokens minted by a deleted
// key are refused: token.Signer.KeyCheck).
func (ks *KeyStore) Has(id string) bool {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	_, ok := ks.byID[id]
	return ok
}
