package relay

import (
	"sync"
	"sync/atomic"
)

// readerState counts a stream's readers (RTSP sessions, HLS) for its owner,
// which pulls the camera only while someone watches.
type readerState struct {
	notifyMu    sync.Mutex // orders readers-changed callbacks
	rmu         sync.Mutex
	rtspReaders int
	extReaders  int    // readers the relay does not serve itself (AddReader: WebRTC)
	hlsReader   bool   // HLS requested in the last hlsIdleTimeout
	hlsGen      uint64 // incremented each time hlsReader turns true
	onReaders   func(n int)
	hlsLast     atomic.Int64 // unix nanos of the last HLS request start or end
	hlsInflight atomic.Int32
}

// Readers is the number of readers attached: RTSP sessions playing, readers
// added with AddReader, plus one while HLS is being requested.
func (st *Stream) Readers() int {
	st.rmu.Lock()
	defer st.rmu.Unlock()
	return st.readersLocked()
}

func (st *Stream) readersLocked() int {
	n := st.rtspReaders + st.extReaders
	if st.hlsReader {
		n++
	}
	return n
}

// AddReader counts a reader served outside the relay (a WebRTC session)
// until the returned release is called (once; later calls do nothing).
func (st *Stream) AddReader() (release func()) {
	st.changeReaders(func() { st.extReaders++ })
	var once sync.Once
	return func() {
		once.Do(func() { st.changeReaders(func() { st.extReaders-- }) })
	}
}

// OnReadersChanged sets the callback called with the new count each time
// Readers changes (calls are ordered; it runs on gortsplib or HLS
// goroutines and must not block for long).
func (st *Stream) OnReadersChanged(fn func(n int)) {
	st.rmu.Lock()
	st.onReaders = fn
	st.rmu.Unlock()
}

// changeReaders applies a change and calls the callback, in order.
func (st *Stream) changeReaders(change func()) {
	st.notifyMu.Lock()
	defer st.notifyMu.Unlock()
	st.rmu.Lock()
	before := st.readersLocked()
	change()
	n := st.readersLocked()
	fn := st.onReaders
	st.rmu.Unlock()
	if fn != nil && n != before {
		fn(n)
	}
}
