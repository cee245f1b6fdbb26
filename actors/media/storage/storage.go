// Package storage is where recorded segments live: a local directory or an
// S3-compatible bucket behind one small interface.
//
// Objects are written once and published atomically: nothing is visible
// under a key until its Writer's Close succeeds. Keys are built by the
// recorder (never from user input) and validated anyway: relative
// slash-separated paths of [a-z0-9_~./-], without "..", empty or hidden
// segments, at most 1024 bytes.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// PartialSuffix ends the keys listed by Partials: the object being written
// under key K is K+PartialSuffix until it is published. Open and Delete
// accept such keys; Create does not.
const PartialSuffix = ".partial"

// maxKeyLen bounds keys (S3 allows 1024 bytes).
const maxKeyLen = 1024

// Errors of the storages.
var (
	// ErrNotFound: no object under the key (Open).
	ErrNotFound = errors.New("storage: object not found")
	// ErrInvalidKey: the key breaks the key rules.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrClosed: Write, Close or Abort on a Writer already closed or aborted.
	ErrClosed = errors.New("storage: writer already closed")
)

// Storage holds segments.
type Storage interface {
	// Create opens a new object for writing; nothing is visible under key
	// until Close succeeds (the data goes to a partial object first, then is
	// published atomically). An existing object under key is replaced.
	Create(ctx context.Context, key string) (Writer, error)
	// Open opens an object (or a partial one, key+PartialSuffix) for
	// reading and returns its size. A missing object is ErrNotFound.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, int64, error)
	// Delete removes an object (or a partial one). Deleting a missing
	// object is not an error.
	Delete(ctx context.Context, key string) error
	// Partials lists the partial objects left unfinished by a crash (keys
	// ending in PartialSuffix), so the recorder can finalize or remove them.
	// Objects being written by this Storage value are not listed.
	Partials(ctx context.Context) ([]string, error)
}

// Writer writes one object.
type Writer interface {
	io.Writer
	// Close makes the object durable and publishes it under its key.
	Close() error
	// Abort discards what was written; nothing is published.
	Abort() error
}

// Lister is implemented by storages that list the published objects of
// one "directory": the keys dir+name (dir ends with "/", names without a
// slash), sorted, partials left out. Keys carry the recording's time, so
// a day's segments are one listing (actors/plan reconciles the index with
// it).
type Lister interface {
	List(ctx context.Context, dir string) ([]string, error)
}

// validDir checks a listing's directory: a key prefix ending in "/".
func validDir(dir string) error {
	if !strings.HasSuffix(dir, "/") {
		return fmt.Errorf("%w: directory %q does not end with /", ErrInvalidKey, dir)
	}
	return ValidKey(strings.TrimSuffix(dir, "/"))
}

// PartialPublisher is implemented by storages that can publish the first
// size bytes of a partial object under its final key (the partial key
// without PartialSuffix) without the caller copying it, removing the
// partial. The recorder's crash recovery uses it when available.
type PartialPublisher interface {
	PublishPartial(ctx context.Context, partial string, size int64) (key string, err error)
}

// ValidKey reports whether key follows the key rules (see the package
// documentation). Keys ending in PartialSuffix are valid keys too: Create
// refuses them separately.
func ValidKey(key string) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("%w: length %d", ErrInvalidKey, len(key))
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '_', c == '~', c == '.', c == '/', c == '-':
		default:
			return fmt.Errorf("%w: character %q", ErrInvalidKey, c)
		}
	}
	if strings.Contains(key, "..") {
		return fmt.Errorf("%w: contains \"..\"", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		// empty: leading slash (absolute), trailing slash or "//";
		// hidden: "." and names the storages use for themselves
		if seg == "" || seg[0] == '.' {
			return fmt.Errorf("%w: empty or hidden path element", ErrInvalidKey)
		}
	}
	return nil
}

// IsPartial reports whether key names a partial object.
func IsPartial(key string) bool { return strings.HasSuffix(key, PartialSuffix) }

// FinalKey is the key a partial object is published under.
func FinalKey(partial string) string { return strings.TrimSuffix(partial, PartialSuffix) }

func validCreateKey(key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if IsPartial(key) {
		return fmt.Errorf("%w: ends in %s", ErrInvalidKey, PartialSuffix)
	}
	return nil
}

func validPartialKey(key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if !IsPartial(key) || FinalKey(key) == "" || strings.HasSuffix(FinalKey(key), "/") {
		return fmt.Errorf("%w: not a partial key", ErrInvalidKey)
	}
	return nil
}
