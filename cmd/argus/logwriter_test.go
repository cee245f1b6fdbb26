package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe to read while the flusher writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogWriterKeepsEveryLineInOrder(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	const writers, lines = 8, 2000 // well over maxPending in total: writers wait, nothing is lost
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "g%d line %06d %s\n", g, i, strings.Repeat("x", 100))
			}
		}()
	}
	wg.Wait()
	w.Close()
	next := make([]int, writers)
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(l, "g%d line %d", &g, &i); err != nil {
			t.Fatalf("torn line %q", l)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
		n++
	}
	if n != writers*lines {
		t.Fatalf("%d lines out, want %d", n, writers*lines)
	}
}

func TestLogWriterFlushesSoonAndWarningsAtOnce(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out)
	defer w.Close()
	log := slog.New(flushOnWarn{slog.NewTextHandler(w, nil), w})

	log.Warn("disk full")
	if !strings.Contains(out.String(), "disk full") {
		t.Fatal("a warning waited for the next flush")
	}
	log.Info("request served")
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out.String(), "request served") {
		if time.Now().After(deadline) {
			t.Fatal("an info line was not written within 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
