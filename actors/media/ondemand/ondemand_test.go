package ondemand

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/relay"
)

func TestSet(t *testing.T) {
	old := startGrace
	startGrace = 300 * time.Millisecond
	t.Cleanup(func() { startGrace = old })

	s := New(50*time.Millisecond, nil)
	var starts, stops atomic.Int32
	start := func() (*relay.Stream, func(), error) {
		starts.Add(1)
		return relay.NewStream(relay.Key{Device: "cam1", Channel: 1}), func() { stops.Add(1) }, nil
	}
	k := relay.Key{Device: "cam1", Channel: 1}
	st, err := s.Open(k, start)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Open(k, start); again != st || starts.Load() != 1 {
		t.Fatalf("a second Open started again (%d starts)", starts.Load())
	}

	// a new stream waits the start grace for its first reader, not the idle timeout
	time.Sleep(150 * time.Millisecond)
	if st.Closed() {
		t.Fatal("closed before its first reader came, within the start grace")
	}
	release := st.AddReader()
	time.Sleep(400 * time.Millisecond)
	if st.Closed() {
		t.Fatal("closed with a reader")
	}
	release()
	deadline := time.Now().Add(2 * time.Second)
	for !st.Closed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !st.Closed() || stops.Load() != 1 {
		t.Fatalf("after its last reader: closed %v, %d stops", st.Closed(), stops.Load())
	}
	if _, ok := s.Get(k); ok || s.Len() != 0 {
		t.Fatal("an idle stream is still in the set")
	}

	// a failed start leaves nothing; Close stops what runs and refuses more
	if _, err := s.Open(k, func() (*relay.Stream, func(), error) { return nil, nil, errors.New("no") }); err == nil || s.Len() != 0 {
		t.Fatalf("failed start: %v, %d running", err, s.Len())
	}
	st2, _ := s.Open(k, start)
	s.Close()
	if !st2.Closed() || stops.Load() != 2 {
		t.Fatalf("Close: closed %v, %d stops", st2.Closed(), stops.Load())
	}
	if _, err := s.Open(k, start); !errors.Is(err, relay.ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
}
