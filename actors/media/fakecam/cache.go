package fakecam

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

// onceMap builds each key's value at most once per process (while the
// build succeeds), so many cameras share one encode and one copy in
// memory; concurrent callers of a key wait for the first one's build.
type onceMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*onceEntry[V]
}

type onceEntry[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func (o *onceMap[K, V]) get(ctx context.Context, k K, build func(context.Context) (V, error)) (V, error) {
	o.mu.Lock()
	if o.m == nil {
		o.m = make(map[K]*onceEntry[V])
	}
	e, ok := o.m[k]
	if !ok {
		e = &onceEntry[V]{done: make(chan struct{})}
		o.m[k] = e
		o.mu.Unlock()
		e.v, e.err = build(ctx)
		if e.err != nil {
			// Do not cache failures: the next Start may have ffmpeg or a live ctx.
			o.mu.Lock()
			delete(o.m, k)
			o.mu.Unlock()
		}
		close(e.done)
		return e.v, e.err
	}
	o.mu.Unlock()
	select {
	case <-e.done:
		if e.err != nil && (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			// The builder gave up on its own ctx, not on ours: build it ourselves.
			return o.get(ctx, k, build)
		}
		return e.v, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// cachedFile returns the file cached in os.TempDir() under name when
// check accepts it or, when it is missing or unusable, encodes it, checks
// that and caches it there. encoded says which.
func cachedFile(name string, encode func() ([]byte, error), check func([]byte) error) (buf []byte, encoded bool, err error) {
	path := filepath.Join(os.TempDir(), name)
	if buf, err := os.ReadFile(path); err == nil {
		if check(buf) == nil {
			return buf, false, nil
		}
		// Corrupt or foreign file: encode again and replace it.
	}
	buf, err = encode()
	if err != nil {
		return nil, false, err
	}
	if err := check(buf); err != nil {
		return nil, false, err
	}
	// Atomic publish: concurrent processes may encode the same file; each
	// renames a complete file over the other, readers never see a partial one.
	if tmp, err := os.CreateTemp(os.TempDir(), name+".*.tmp"); err == nil {
		_, werr := tmp.Write(buf)
		if werr == nil {
			werr = tmp.Chmod(0o644) // CreateTemp makes 0600; other users may share the cache
		}
		cerr := tmp.Close()
		if werr == nil && cerr == nil {
			werr = os.Rename(tmp.Name(), path)
		}
		if werr != nil {
			os.Remove(tmp.Name())
		}
	}
	return buf, true, nil
}
