package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/argus-vms/argus/events/backoff"
	"github.com/argus-vms/argus/events/pb"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// ServeReports answers worker slots' reports on this node: answer routes a
// report to its task's actor (wherever it runs). Every node serves in one
// queue group, so a report reaches one node. It stops when ctx ends.
func ServeReports(ctx context.Context, nc *nats.Conn, answer func(context.Context, *pb.ReportTask) (*pb.TaskReply, error)) error {
	sub, err := nc.QueueSubscribe(ReportSubject, ReportGroup, func(m *nats.Msg) {
		go func() {
			r := &pb.ReportTask{}
			var reply *pb.TaskReply
			if err := proto.Unmarshal(m.Data, r); err != nil {
				reply = &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_INVALID, Detail: "not a task report"}
			} else {
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				var err error
				reply, err = answer(rctx, r)
				cancel()
				if err != nil || reply == nil {
					reply = &pb.TaskReply{Code: pb.ReplyCode_REPLY_CODE_UNAVAILABLE, Detail: fmt.Sprint("the task's actor did not answer: ", err)}
				}
			}
			b, _ := proto.Marshal(reply)
			_ = m.Respond(b)
		}()
	})
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); _ = sub.Unsubscribe() }()
	return nil
}

// errNoAnswer: no node answered in time, or the answer was UNAVAILABLE.
var errNoAnswer = errors.New("queue: no node answered the report")

// Report sends one report and waits for its answer, trying again (with
// backoff, the same report: the actor recognises a repeated one) while no
// node answers or the answer says retry, until ctx ends.
func Report(ctx context.Context, nc *nats.Conn, r *pb.ReportTask) (*pb.TaskReply, error) {
	b, err := proto.Marshal(r)
	if err != nil {
		return nil, err
	}
	bo := backoff.Backoff{Min: 100 * time.Millisecond, Max: 3 * time.Second}
	for {
		reply, err := reportOnce(ctx, nc, b)
		if err == nil {
			return reply, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), err)
		case <-time.After(bo.Next()):
		}
	}
}

func reportOnce(ctx context.Context, nc *nats.Conn, b []byte) (*pb.TaskReply, error) {
	rctx, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, ReportSubject, b)
	if err != nil {
		return nil, errors.Join(errNoAnswer, err)
	}
	reply := &pb.TaskReply{}
	if err := proto.Unmarshal(m.Data, reply); err != nil {
		return nil, err
	}
	switch reply.Code {
	case pb.ReplyCode_REPLY_CODE_UNAVAILABLE, pb.ReplyCode_REPLY_CODE_NOT_OWNER, pb.ReplyCode_REPLY_CODE_CONFLICT:
		return nil, fmt.Errorf("%w: %s", errNoAnswer, reply.Detail)
	}
	return reply, nil
}

// LiveSubject is where worker slots ask a node for a live URL of a task's
// channel (a live snapshot): tokens are signed by nodes only, and never
// stored in the log or the queue.
const LiveSubject = "argus.workctl.live"

// ServeLive answers live URL requests: sign makes a URL for the work's
// device channel on behalf of its submitter (and, for a live transcode,
// the URL it publishes to).
func ServeLive(ctx context.Context, nc *nats.Conn, sign func(spec *pb.TaskSpec) (live, publish string, err error)) error {
	sub, err := nc.QueueSubscribe(LiveSubject, ReportGroup, func(m *nats.Msg) {
		w := &pb.TaskWork{}
		if proto.Unmarshal(m.Data, w) != nil || w.Spec == nil {
			return
		}
		live, publish, err := sign(w.Spec)
		if err != nil {
			return // no answer: the worker tries again
		}
		b, _ := proto.Marshal(&pb.TaskWork{Id: w.Id, LiveUrl: live, PublishUrl: publish})
		_ = m.Respond(b)
	})
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); _ = sub.Unsubscribe() }()
	return nil
}

// LiveURL asks a node for a live URL of the work's channel (and where a
// live transcode publishes).
func LiveURL(ctx context.Context, nc *nats.Conn, w *pb.TaskWork) (live, publish string, err error) {
	b, err := proto.Marshal(&pb.TaskWork{Id: w.Id, Spec: w.Spec})
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, LiveSubject, b)
	if err != nil {
		return "", "", fmt.Errorf("no node gave a live URL: %w", err)
	}
	r := &pb.TaskWork{}
	if err := proto.Unmarshal(m.Data, r); err != nil || r.LiveUrl == "" {
		return "", "", errors.New("no live URL in the answer")
	}
	return r.LiveUrl, r.PublishUrl, nil
}
