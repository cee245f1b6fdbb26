package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// attempt bounds one JetStream API call while a cluster is forming: the
// meta leader may not be elected yet, and nats-server 2.15.2 sometimes never
// answers concurrent create-or-update calls for one stream (nodes of a
// cluster starting together), so each call gets a short deadline and is
// tried again until ctx ends.
const attempt = 5 * time.Second

func retry[T any](ctx context.Context, what string, f func(context.Context) (T, error)) (T, error) {
	return retryEach(ctx, attempt, what, f)
}

// Retry runs a JetStream call in attempts of 5 s until it succeeds, fails
// for a reason a retry cannot fix, or ctx ends (a bucket just created may
// answer "no response from stream" until its leader is elected).
func Retry[T any](ctx context.Context, what string, f func(context.Context) (T, error)) (T, error) {
	return retry(ctx, what, f)
}

func retryEach[T any](ctx context.Context, attempt time.Duration, what string, f func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		v, err := f(actx)
		timedOut := actx.Err() != nil
		cancel()
		if err == nil || !retriable(err) || ctx.Err() != nil {
			if err != nil {
				err = fmt.Errorf("%s: %w", what, err)
			}
			return v, err
		}
		if timedOut {
			continue // waited long enough: a new leader may answer now
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: %w", what, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func retriable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 10008: JetStream not ready / no meta leader yet; 10005, 10023: a
		// replica's server is not up yet (a cluster forming, nodes starting
		// one after the other); 10059: stream not found, which a stream or
		// bucket another node just created answers until its group forms
		// (every stream is ensured before it is used, so it is never for good).
		return apiErr.ErrorCode == 10008 || apiErr.ErrorCode == 10005 || apiErr.ErrorCode == 10023 ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamNotFound || apiErr.Code == 503
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders) || disconnected(err) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount)
}

// EnsureStream opens the stream cfg names, creating it when it does not
// exist and updating it only when its config differs in what Argus sets.
// Lookups first: nodes starting together then mostly read.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	return retry(ctx, "stream "+cfg.Name, func(ctx context.Context) (jetstream.Stream, error) {
		st, err := js.Stream(ctx, cfg.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			st, err = js.CreateStream(ctx, cfg)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				return js.Stream(ctx, cfg.Name)
			}
			return st, err
		}
		if err != nil {
			return nil, err
		}
		have := st.CachedInfo().Config
		if have.Duplicates != cfg.Duplicates || have.Description != cfg.Description || len(have.Subjects) != len(cfg.Subjects) ||
			have.AllowDirect != cfg.AllowDirect {
			have.Duplicates, have.Description, have.Subjects, have.AllowDirect = cfg.Duplicates, cfg.Description, cfg.Subjects, cfg.AllowDirect
			return js.UpdateStream(ctx, have)
		}
		return st, nil
	})
}

// EnsureKeyValue opens the bucket cfg names, creating it when it does not
// exist. An existing bucket is used as it is (an operator may have tuned it).
func EnsureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return retry(ctx, "kv "+cfg.Bucket, func(ctx context.Context) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			kv, err = js.CreateKeyValue(ctx, cfg)
			if errors.Is(err, jetstream.ErrBucketExists) {
				return js.KeyValue(ctx, cfg.Bucket)
			}
		}
		return kv, err
	})
}
