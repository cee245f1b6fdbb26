package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Local stores objects as files under a directory: key "a/b/c.mp4" is the
// file <dir>/a/b/c.mp4, written as <dir>/a/b/c.mp4.partial and renamed
// when published. Safe for concurrent use.
type Local struct {
	root string

	// dirMu orders directory creation (Create) against the removal of
	// emptied directories (Delete), so neither breaks the other.
	dirMu sync.RWMutex

	mu     sync.Mutex
	active map[string]struct{} // partial keys being written by this Local
}

var _ PartialPublisher = (*Local)(nil)

// NewLocal returns a storage of files under dir, created if missing.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("storage: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	return &Local{root: abs, active: make(map[string]struct{})}, nil
}

// Dir is the root directory.
func (l *Local) Dir() string { return l.root }

// Path is the file of a key (validated).
func (l *Local) Path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Create implements Storage.
func (l *Local) Create(ctx context.Context, key string) (Writer, error) {
	if err := validCreateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := filepath.Join(l.root, filepath.FromSlash(key))
	partKey := key + PartialSuffix
	l.mu.Lock()
	if _, busy := l.active[partKey]; busy {
		l.mu.Unlock()
		return nil, fmt.Errorf("storage: %s is already being written", key)
	}
	l.active[partKey] = struct{}{}
	l.mu.Unlock()

	l.dirMu.RLock()
	var f *os.File
	err := os.MkdirAll(filepath.Dir(final), 0o755)
	if err == nil {
		// O_EXCL: a partial of this key left by a crash is recovered, never
		// overwritten.
		f, err = os.OpenFile(final+PartialSuffix, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	}
	l.dirMu.RUnlock()
	if err != nil {
		l.release(partKey)
		return nil, fmt.Errorf("storage: create %s: %w", key, pathless(err))
	}
	return &localWriter{l: l, f: f, partKey: partKey, final: final}, nil
}

func (l *Local) release(partKey string) {
	l.mu.Lock()
	delete(l.active, partKey)
	l.mu.Unlock()
}

func (l *Local) isActive(partKey string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.active[partKey]
	return ok
}

// Open implements Storage.
func (l *Local) Open(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	p, err := l.Path(key)
	if err != nil {
		return nil, 0, err
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, key)
		}
		return nil, 0, fmt.Errorf("storage: open %s: %w", key, pathless(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("storage: stat %s: %w", key, pathless(err))
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, st.Size(), nil
}

// Delete implements Storage. Directories emptied by the removal are
// removed too (up to the root).
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if IsPartial(key) && l.isActive(key) {
		return fmt.Errorf("storage: %s is being written", key)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: delete %s: %w", key, pathless(err))
	}
	l.pruneDirs(filepath.Dir(p))
	return nil
}

// pruneDirs removes dir and its parents while they are empty.
func (l *Local) pruneDirs(dir string) {
	l.dirMu.Lock()
	defer l.dirMu.Unlock()
	for dir != l.root && strings.HasPrefix(dir, l.root+string(filepath.Separator)) {
		if os.Remove(dir) != nil { // not empty (or gone): stop
			return
		}
		dir = filepath.Dir(dir)
	}
}

// Partials implements Storage: the *.partial files under the root that no
// Writer of this Local has open.
func (l *Local) Partials(ctx context.Context) ([]string, error) {
	var out []string
	err := filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == l.root {
				return err
			}
			return nil // a directory removed meanwhile, or unreadable: skip
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), PartialSuffix) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return nil
		}
		key := filepath.ToSlash(rel)
		if validPartialKey(key) != nil || l.isActive(key) {
			return nil
		}
		out = append(out, key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: list partials: %w", pathless(err))
	}
	sort.Strings(out)
	return out, nil
}

// List implements Lister.
func (l *Local) List(ctx context.Context, dir string) ([]string, error) {
	if err := validDir(dir); err != nil {
		return nil, err
	}
	p, err := l.Path(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: list %s: %w", dir, pathless(err))
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), PartialSuffix) || ValidKey(dir+e.Name()) != nil {
			continue
		}
		out = append(out, dir+e.Name())
	}
	return out, nil // ReadDir sorts by name
}

// PublishPartial implements PartialPublisher: the partial file is truncated
// to size, synced and renamed to its final name.
func (l *Local) PublishPartial(ctx context.Context, partial string, size int64) (string, error) {
	if err := validPartialKey(partial); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if l.isActive(partial) {
		return "", fmt.Errorf("storage: %s is being written", partial)
	}
	key := FinalKey(partial)
	src := filepath.Join(l.root, filepath.FromSlash(partial))
	dst := filepath.Join(l.root, filepath.FromSlash(key))
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s", ErrNotFound, partial)
		}
		return "", fmt.Errorf("storage: publish %s: %w", partial, pathless(err))
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(src, dst)
	}
	if err != nil {
		return "", fmt.Errorf("storage: publish %s: %w", partial, pathless(err))
	}
	syncDir(filepath.Dir(dst))
	return key, nil
}

// localWriter writes a .partial file and renames it on Close.
type localWriter struct {
	l       *Local
	f       *os.File
	partKey string
	final   string
	done    bool
	err     error // first write error: Close then fails
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("storage: write: %w", pathless(err))
		return n, w.err
	}
	return n, nil
}

// Close syncs the file, renames it to its key and syncs the directory. On
// failure the partial file is left for recovery.
func (w *localWriter) Close() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	defer w.l.release(w.partKey)
	err := w.err
	if err == nil {
		if err = w.f.Sync(); err != nil {
			err = fmt.Errorf("storage: sync: %w", pathless(err))
		}
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("storage: close: %w", pathless(cerr))
	}
	if err != nil {
		return err
	}
	if err := os.Rename(w.final+PartialSuffix, w.final); err != nil {
		return fmt.Errorf("storage: publish: %w", pathless(err))
	}
	syncDir(filepath.Dir(w.final))
	return nil
}

// Abort closes and removes the partial file.
func (w *localWriter) Abort() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	defer w.l.release(w.partKey)
	w.f.Close()
	if err := os.Remove(w.final + PartialSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storage: abort: %w", pathless(err))
	}
	w.l.pruneDirs(filepath.Dir(w.final))
	return nil
}

// syncDir makes a rename in dir durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// pathless drops the absolute path from *fs.PathError and *os.LinkError
// (the key is in the message already; the data directory is not the
// caller's business).
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}
