package onvif

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/argus-vms/argus/events/backoff"
)

// WatchOptions tunes Watch; zero values take the defaults.
type WatchOptions struct {
	Termination        time.Duration // subscription lifetime asked for, default 60 s; renewed at half of it
	PullTimeout        time.Duration // PullMessages long-poll, default 10 s
	Limit              int           // messages per pull, default 100
	MinRetry, MaxRetry time.Duration // backoff between failed attempts, default 1 s .. 30 s
	// OnState, when set, is called with (true, nil) each time the watcher
	// has subscribed, and with (false, err) each time an attempt fails or
	// the subscription is lost — so once per retry while a camera stays
	// away. It is not called when ctx ends.
	OnState func(connected bool, err error)
	Log     *slog.Logger
}

const (
	defaultWatchTermination = time.Minute
	defaultWatchPullTimeout = 10 * time.Second
	defaultWatchMinRetry    = time.Second
	defaultWatchMaxRetry    = 30 * time.Second
	// unsubscribeTimeout bounds the goodbye to a subscription: a camera
	// that is gone must not hold up a retry or a shutdown.
	unsubscribeTimeout = 2 * time.Second
)

func (w WatchOptions) withDefaults() WatchOptions {
	if w.Termination <= 0 {
		w.Termination = defaultWatchTermination
	}
	if w.PullTimeout <= 0 {
		w.PullTimeout = defaultWatchPullTimeout
	}
	if w.Limit <= 0 {
		w.Limit = defaultPullLimit
	}
	if w.MinRetry <= 0 {
		w.MinRetry = defaultWatchMinRetry
	}
	if w.MaxRetry <= 0 {
		w.MaxRetry = defaultWatchMaxRetry
	}
	w.MaxRetry = max(w.MaxRetry, w.MinRetry)
	if w.OnState == nil {
		w.OnState = func(bool, error) {}
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	return w
}

// Watch subscribes to the camera's events (CreatePullPointSubscription) and
// delivers every notification to fn, in order, until ctx ends. It renews the
// subscription before it terminates, and on any failure (camera rebooted and
// forgot the subscription, network gone, a fault) it unsubscribes best-effort,
// waits with backoff and subscribes again from Connect (the camera may have a
// new clock offset after a reboot); backoff resets after a successful pull.
// It returns ctx.Err() when ctx ends (unsubscribing first, bounded by 2 s).
//
// fn runs on Watch's goroutine: while it runs nothing is pulled, so it
// should hand the notification on rather than do slow work. Initialized
// property messages, which a new subscription starts with, are delivered
// too: they carry the current state. Only an unusable deviceURL makes Watch
// return another error, at once.
func Watch(ctx context.Context, deviceURL string, o Options, w WatchOptions, fn func(Notification)) error {
	// Connections of our own, so that they can be dropped after a failure
	// without touching anybody else's pool. A caller's HTTP is left alone.
	var own *http.Transport
	if t, ok := http.DefaultTransport.(*http.Transport); ok && o.HTTP == nil {
		own = t.Clone()
		defer own.CloseIdleConnections()
		o.HTTP = &http.Client{Transport: own}
	}
	c, err := New(deviceURL, o)
	if err != nil {
		return err
	}
	w = w.withDefaults()
	log := w.Log.With("device", c.DeviceURL())
	b := backoff.Backoff{Min: w.MinRetry, Max: w.MaxRetry}
	for {
		err := watchOnce(ctx, c, w, &b, log, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// After a reboot the pooled connections are dead, and a POST on
		// one fails without being retried: start the next attempt afresh.
		if own != nil {
			own.CloseIdleConnections()
		}
		w.OnState(false, err)
		delay := b.Next()
		log.Warn("onvif events: subscription lost", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// watchOnce connects, subscribes and pulls until something fails (its
// error) or ctx ends. The subscription is left best-effort on the way out.
func watchOnce(ctx context.Context, c *Client, w WatchOptions, b *backoff.Backoff, log *slog.Logger, fn func(Notification)) error {
	if err := c.Connect(ctx); err != nil {
		return err
	}
	pp, err := c.Subscribe(ctx, w.Termination)
	if err != nil {
		return err
	}
	defer unsubscribeQuietly(ctx, pp, log)
	log.Info("onvif events: subscribed", "subscription", pp.Address(), "clock_offset", c.ClockOffset())
	w.OnState(true, nil)

	// Renewal runs on our clock, so the camera's offset does not matter.
	renewAt := time.Now().Add(w.Termination / 2)
	for {
		if !time.Now().Before(renewAt) {
			if err := pp.Renew(ctx, w.Termination); err != nil {
				return err
			}
			renewAt = time.Now().Add(w.Termination / 2)
		}
		// A long poll must not outlast the renewal it would delay.
		wait := max(min(w.PullTimeout, time.Until(renewAt)), 0)
		ns, err := pp.Pull(ctx, wait, w.Limit)
		if err != nil {
			return err
		}
		b.Reset()
		for _, n := range ns {
			fn(n)
		}
	}
}

// unsubscribeQuietly ends the subscription if the camera still listens,
// even when ctx has ended: a camera holds only a few pull points.
func unsubscribeQuietly(ctx context.Context, pp *PullPoint, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unsubscribeTimeout)
	defer cancel()
	if err := pp.Unsubscribe(ctx); err != nil {
		log.Debug("onvif events: unsubscribe", "subscription", pp.Address(), "err", err)
	}
}
