package main

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/test/testenv"
)

func TestLogWriterKeepsEveryLineInOrder(t *testing.T) {
	var out testenv.SyncBuffer
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
	var out testenv.SyncBuffer
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
