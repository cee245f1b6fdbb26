package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
)

// fromPeers asks every other live node's router the same question (lists
// of what each hosts) and gathers the answers; a node that did not answer
// is an error naming it.
func fromPeers[T any](ctx context.Context, h *Host, req proto.Message, items func(any) ([]T, bool)) ([]T, error) {
	o := h.ownership()
	if o == nil {
		return nil, nil
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		out  []T
		errs []error
	)
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	for _, peer := range o.Peers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v any
			err := errors.New("not reachable")
			if h.peers.reachable(peer.Peer) {
				v, err = h.engine.Request(routerPID(peer.Peer), req, timeout).Result()
			}
			got, ok := items(v)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || !ok {
				errs = append(errs, fmt.Errorf("node %s did not answer: %v", peer.ID, err))
				return
			}
			out = append(out, got...)
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
