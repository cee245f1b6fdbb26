package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/edge"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/actors/rendition"
	"github.com/argus-vms/argus/actors/task"
	"github.com/argus-vms/argus/events/pb"
)

// startRenditions makes the node's renditions: ?codec=h264 of a stream it
// owns, transcoded by a live_transcode task on a worker slot that
// publishes into this node's relay.
func (n *node) startRenditions() {
	n.renditions = rendition.New(rendition.Config{Start: n.startTranscode, IdleTimeout: *n.cfg.idleTimeout, Log: n.log})
}

// startTranscode submits the live transcode of rendition k and returns
// its cancel.
func (n *node) startTranscode(ctx context.Context, k relay.Key) (func(), error) {
	id := "lt-" + strings.ToLower(rand.Text()[:16])
	cmd := &pb.SubmitTask{Id: id, By: edge.PeerKeyID, Spec: &pb.TaskSpec{Type: task.TypeLiveTranscode, Device: k.Device,
		Channel: uint32(k.Channel), Priority: task.MaxPriority, MaxAttempts: 3, KeyId: edge.PeerKeyID}}
	r, err := n.host.AskTask(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("rendition: submit the transcode: %w", err)
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return nil, fmt.Errorf("rendition: transcode refused: %s %s", r.GetField(), r.GetDetail())
	}
	n.log.Info("live transcode submitted", "task", id, "stream", k.String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := n.host.AskTask(ctx, &pb.CancelTask{Id: id, By: edge.PeerKeyID}); err != nil {
			n.log.Warn("live transcode not canceled", "task", id, "err", err)
		}
	}, nil
}

// publish authorizes a transcode's ANNOUNCE of rendition k.
func (n *node) publish(signer *token.Signer) func(k relay.Key, q url.Values) (*relay.Stream, error) {
	return func(k relay.Key, q url.Values) (*relay.Stream, error) {
		if _, err := signer.CheckPublish(q.Get("token"), k.Device, k.Channel, time.Now()); err != nil {
			return nil, err
		}
		st, ok := n.renditions.Publisher(k)
		if !ok {
			return nil, fmt.Errorf("%w: nobody reads rendition %s", relay.ErrNotFound, k)
		}
		return st, nil
	}
}

// openRendition is the stream of rendition k for this node's readers: the
// camera's own when it is in that codec already, else the transcode.
func (n *node) openRendition(ctx context.Context, k relay.Key) (*relay.Stream, error) {
	src, err := n.host.OpenStream(ctx, k.Source())
	if err != nil {
		return nil, err
	}
	if err := src.WaitReady(ctx); err != nil {
		return nil, err
	}
	if c, ok := src.VideoCodec(); ok && c == k.Codec {
		return src, nil
	}
	if n.renditions == nil {
		return nil, errors.New("no renditions on this node")
	}
	return n.renditions.Open(ctx, k)
}
