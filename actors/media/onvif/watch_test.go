package onvif_test

// An external test package: onvifsrv, the fake camera, imports onvif.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
	"github.com/argus-vms/argus/actors/media/onvif"
)

const (
	camUser = "admin"
	camPass = "s3cret!"
	badPass = "Not-The-Passw0rd"
)

func startCamera(t *testing.T) *onvifsrv.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := onvifsrv.Start(ctx, onvifsrv.Options{
		Username: camUser,
		Password: camPass,
		Profiles: []onvifsrv.Profile{{Token: "main", StreamURI: "rtsp://127.0.0.1:8554/cam1", Width: 320, Height: 180}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// actionCounter counts the SOAP operations sent through it, by the last
// part of their action.
type actionCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	ops  map[string]int
}

func (a *actionCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	ct := r.Header.Get("Content-Type")
	if _, action, ok := strings.Cut(ct, `action="`); ok {
		action = strings.TrimSuffix(action, `"`)
		op := action[strings.LastIndexByte(action, '/')+1:]
		op = strings.TrimSuffix(op, "Request")
		a.mu.Lock()
		a.ops[op]++
		a.mu.Unlock()
	}
	return a.next.RoundTrip(r)
}

func (a *actionCounter) count(op string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ops[op]
}

// watcher is one Watch running for a test.
type watcher struct {
	events  chan onvif.Notification
	states  chan stateChange
	calls   *actionCounter
	done    chan error
	cancel  context.CancelFunc
	stopped bool
}

type stateChange struct {
	connected bool
	err       error
	at        time.Time
}

// startWatch runs Watch against srv. With counted, its requests go through
// wt.calls; without, Watch uses connections of its own, as in production.
func startWatch(t *testing.T, srv *onvifsrv.Server, password string, w onvif.WatchOptions, counted bool) *watcher {
	t.Helper()
	wt := &watcher{
		events: make(chan onvif.Notification, 100),
		states: make(chan stateChange, 100),
		done:   make(chan error, 1),
	}
	o := onvif.Options{Username: camUser, Password: password}
	if counted {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		wt.calls = &actionCounter{next: tr, ops: map[string]int{}}
		o.HTTP = &http.Client{Transport: wt.calls}
	}
	if w.MinRetry == 0 {
		w.MinRetry, w.MaxRetry = 50*time.Millisecond, 200*time.Millisecond
	}
	w.OnState = func(connected bool, err error) {
		wt.states <- stateChange{connected, err, time.Now()}
	}
	ctx, cancel := context.WithCancel(context.Background())
	wt.cancel = cancel
	go func() {
		wt.done <- onvif.Watch(ctx, srv.DeviceURL(), o, w, func(n onvif.Notification) { wt.events <- n })
	}()
	t.Cleanup(func() { wt.stop(t) })
	return wt
}

// stop cancels Watch and waits for it to return.
func (wt *watcher) stop(t *testing.T) error {
	t.Helper()
	if wt.stopped {
		return nil
	}
	wt.stopped = true
	wt.cancel()
	select {
	case err := <-wt.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
		return nil
	}
}

func (wt *watcher) state(t *testing.T, within time.Duration) stateChange {
	t.Helper()
	select {
	case s := <-wt.states:
		return s
	case <-time.After(within):
		t.Fatalf("no OnState within %v", within)
		return stateChange{}
	}
}

// motion waits for a motion event of state on that changed (not an
// Initialized one), skipping others.
func (wt *watcher) motion(t *testing.T, on bool, within time.Duration) onvif.CameraEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case n := <-wt.events:
			ev := onvif.Classify(n)
			if ev.Kind == onvif.KindMotion && ev.State != nil && *ev.State == on && ev.Data["property_operation"] == "Changed" {
				return ev
			}
		case <-deadline:
			t.Fatalf("no motion %v within %v", on, within)
			return onvif.CameraEvent{}
		}
	}
}

func waitSubscriptions(t *testing.T, srv *onvifsrv.Server, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for srv.Subscriptions() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions after %v, want %d", srv.Subscriptions(), within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatchDeliversMotion(t *testing.T) {
	t.Parallel()
	srv := startCamera(t)
	wt := startWatch(t, srv, camPass, onvif.WatchOptions{}, false)
	if s := wt.state(t, 5*time.Second); !s.connected || s.err != nil {
		t.Fatalf("first state %+v", s)
	}
	// A subscription starts with the current state.
	select {
	case n := <-wt.events:
		ev := onvif.Classify(n)
		if ev.Kind != onvif.KindMotion || ev.State == nil || *ev.State || ev.Data["property_operation"] != "Initialized" {
			t.Fatalf("initial event %+v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no Initialized event")
	}

	srv.RaiseMotion("VideoSource_1", true)
	ev := wt.motion(t, true, 2*time.Second)
	if ev.Source != "VideoSourceConfig_1" || ev.Topic != "tns1:RuleEngine/CellMotionDetector/Motion" || ev.Time.IsZero() {
		t.Fatalf("motion on %+v", ev)
	}
	srv.RaiseMotion("VideoSource_1", false)
	wt.motion(t, false, 2*time.Second)
}

func TestWatchRenewsBeforeTermination(t *testing.T) {
	t.Parallel()
	srv := startCamera(t)
	wt := startWatch(t, srv, camPass, onvif.WatchOptions{Termination: 2 * time.Second}, true)
	if s := wt.state(t, 5*time.Second); !s.connected {
		t.Fatalf("first state %+v", s)
	}
	time.Sleep(5 * time.Second)
	srv.RaiseMotion("main", true)
	wt.motion(t, true, 2*time.Second)
	if n := srv.Subscriptions(); n != 1 {
		t.Fatalf("%d subscriptions", n)
	}
	if n := wt.calls.count("CreatePullPointSubscription"); n != 1 {
		t.Fatalf("subscribed %d times", n)
	}
	// Every second over 5 s: allow for a slow machine.
	if n := wt.calls.count("Renew"); n < 3 {
		t.Fatalf("renewed %d times in 5 s of a 2 s subscription", n)
	}
	select {
	case s := <-wt.states:
		t.Fatalf("state changed: %+v", s)
	default:
	}
}

func TestWatchResubscribesAfterRestart(t *testing.T) {
	t.Parallel()
	srv := startCamera(t)
	wt := startWatch(t, srv, camPass, onvif.WatchOptions{}, false)
	if s := wt.state(t, 5*time.Second); !s.connected {
		t.Fatalf("first state %+v", s)
	}
	waitSubscriptions(t, srv, 1, 2*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s := wt.state(t, 5*time.Second); s.connected || s.err == nil {
		t.Fatalf("state after restart %+v", s)
	}
	// Maybe more failures (a dead pooled connection), then subscribed.
	for s := wt.state(t, 5*time.Second); !s.connected; s = wt.state(t, 5*time.Second) {
		t.Logf("retrying: %v", s.err)
	}
	waitSubscriptions(t, srv, 1, 2*time.Second)
	srv.RaiseMotion("main", true)
	wt.motion(t, true, 2*time.Second)
}

func TestWatchUnsubscribesOnCancel(t *testing.T) {
	t.Parallel()
	srv := startCamera(t)
	wt := startWatch(t, srv, camPass, onvif.WatchOptions{}, false)
	if s := wt.state(t, 5*time.Second); !s.connected {
		t.Fatalf("first state %+v", s)
	}
	waitSubscriptions(t, srv, 1, 2*time.Second)
	start := time.Now()
	if err := wt.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v to return", d)
	}
	if n := srv.Subscriptions(); n != 0 {
		t.Fatalf("%d subscriptions left", n)
	}
}

func TestWatchRetriesRefusedCredentialsWithBackoff(t *testing.T) {
	t.Parallel()
	srv := startCamera(t)
	wt := startWatch(t, srv, badPass, onvif.WatchOptions{MinRetry: 50 * time.Millisecond, MaxRetry: time.Second}, false)
	var fails []stateChange
	for len(fails) < 4 {
		s := wt.state(t, 3*time.Second)
		if s.connected || !errors.Is(s.err, onvif.ErrUnauthorized) {
			t.Fatalf("state %+v, want unauthorized", s)
		}
		if strings.Contains(s.err.Error(), badPass) {
			t.Fatalf("error shows the password: %v", s.err)
		}
		fails = append(fails, s)
	}
	// The delays double: 50, 100, 200 ms (plus jitter and the attempts).
	for i, want := range []time.Duration{50, 100, 200} {
		if gap := fails[i+1].at.Sub(fails[i].at); gap < want*time.Millisecond {
			t.Fatalf("retry %d after %v, want at least %v ms", i+1, gap, want)
		}
	}
	if n := srv.Subscriptions(); n != 0 {
		t.Fatalf("%d subscriptions", n)
	}
}

func TestWatchRejectsABadURL(t *testing.T) {
	err := onvif.Watch(context.Background(), "ftp://camera", onvif.Options{}, onvif.WatchOptions{}, func(onvif.Notification) {})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v", err)
	}
}
