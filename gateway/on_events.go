package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// EventLog is the read side of the event log the replay API serves from
// (JetStream, so it works while ClickHouse is down).
type EventLog interface {
	// Read calls fn for events after afterSeq matching the subject filters, in order, until fn returns false or the log's end (as of the call) is reached.
	Read(ctx context.Context, filters []string, afterSeq uint64, fn func(events.Event) bool) error
	// Subject is the subject filter of one aggregate (or of a kind when id == "").
	Subject(kind, id string) string
	// Follow delivers events after afterSeq matching filters as they are appended, until ctx ends.
	Follow(ctx context.Context, filters []string, afterSeq uint64, fn func(events.Event) error) error
	// LastSeq is the sequence of the log's last event (0 when empty).
	LastSeq(ctx context.Context) (uint64, error)
}

// maxStreamLast bounds ?last= of the event stream.
const maxStreamLast = 10000

// Replay limits.
const (
	defaultEventLimit = 100
	maxEventLimit     = 1000
)

// sseHeartbeat is how often an idle event stream gets a comment line, so
// proxies and clients see the connection alive.
var sseHeartbeat = 15 * time.Second

// eventItem is one event in GET /v1/events and /v1/events/stream; data is
// redacted by events.DataJSON.
type eventItem struct {
	Seq       uint64          `json:"seq"`
	ID        string          `json:"id"` // the event id (a webhook delivery's webhook-id)
	Time      string          `json:"time"`
	Type      string          `json:"type"`
	Kind      string          `json:"kind"`
	Aggregate string          `json:"aggregate"`
	Version   uint64          `json:"version"`
	Node      string          `json:"node"`
	Data      json.RawMessage `json:"data"`
}

func eventItemOf(e events.Event) eventItem {
	env := e.Envelope
	return eventItem{
		Seq:       e.Seq,
		ID:        env.GetEventId(),
		Time:      formatTime(time.UnixMilli(env.GetTimeUnixMs())),
		Type:      eventType(env),
		Kind:      env.GetAggregateKind(),
		Aggregate: env.GetAggregateId(),
		Version:   env.GetVersion(),
		Node:      env.GetNode(),
		Data:      json.RawMessage(events.DataJSON(env)),
	}
}

func eventType(env *pb.Envelope) string {
	if t := env.GetType(); t != "" {
		return t
	}
	return events.TypeOf(env)
}

// eventTypes is every event type the schema knows ("device.registered", …),
// derived from the envelope's payload oneof.
var eventTypes = func() map[string]bool {
	m := map[string]bool{}
	fields := (&pb.Envelope{}).ProtoReflect().Descriptor().Oneofs().ByName("payload").Fields()
	for i := 0; i < fields.Len(); i++ {
		kind, rest, _ := strings.Cut(string(fields.Get(i).Name()), "_")
		m[kind+"."+rest] = true
	}
	return m
}()

// eventQuery is a parsed replay/stream request.
type eventQuery struct {
	AfterSeq  uint64
	From, To  time.Time // zero = open; From inclusive, To exclusive
	Type      string
	Kind      string
	Aggregate string
	Limit     int
	Last      int // stream: start this many events before the log's end; -1 = not asked
}

// single returns the only value of a query parameter ("" when absent) or a
// problem naming it when it is repeated.
func single(q url.Values, name string) (string, *Problem) {
	vs := q[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", badRequest(name, "%s may be given only once", name)
}

func parseSeq(v, field string) (uint64, *Problem) {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, badRequest(field, "%s must be a non-negative integer event sequence", field)
	}
	return n, nil
}

func parseQueryTime(v, field string) (time.Time, *Problem) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(field, "%s must be an RFC 3339 time", field)
	}
	return t, nil
}

// parseEventQuery validates the query of GET /v1/events (withLimit) or
// /v1/events/stream (no limit; lastEventID, when not empty, overrides
// after_seq). kind may be implied by type; aggregate needs a kind.
func parseEventQuery(q url.Values, withLimit bool, lastEventID string) (eventQuery, *Problem) {
	eq := eventQuery{Last: -1}
	v, p := single(q, "after_seq")
	if p != nil {
		return eq, p
	}
	if !withLimit {
		last, p := single(q, "last")
		if p != nil {
			return eq, p
		}
		if last != "" {
			n, err := strconv.Atoi(last)
			if err != nil || n < 0 || n > maxStreamLast {
				return eq, badRequest("last", "last must be an integer between 0 and %d", maxStreamLast)
			}
			if v != "" {
				return eq, badRequest("last", "last and after_seq exclude each other")
			}
			eq.Last = n
		}
	}
	if v != "" {
		if eq.AfterSeq, p = parseSeq(v, "after_seq"); p != nil {
			return eq, p
		}
	}
	if lastEventID != "" {
		if eq.AfterSeq, p = parseSeq(lastEventID, "Last-Event-ID"); p != nil {
			return eq, p
		}
		eq.Last = -1 // a reconnect resumes where it was
	}
	if v, p = single(q, "from"); p != nil {
		return eq, p
	}
	if eq.From, p = parseQueryTime(v, "from"); p != nil {
		return eq, p
	}
	if v, p = single(q, "to"); p != nil {
		return eq, p
	}
	if eq.To, p = parseQueryTime(v, "to"); p != nil {
		return eq, p
	}
	if !eq.From.IsZero() && !eq.To.IsZero() && !eq.To.After(eq.From) {
		return eq, badRequest("to", "to must be after from")
	}
	if eq.Kind, p = single(q, "kind"); p != nil {
		return eq, p
	}
	switch eq.Kind {
	case "", events.KindDevice, events.KindStream, events.KindPlan, events.KindShard, events.KindView, events.KindAlarm, events.KindWebhook, events.KindTask:
	default:
		return eq, badRequest("kind", "kind must be one of device, stream, plan, shard, view, alarm, webhook, task")
	}
	if eq.Type, p = single(q, "type"); p != nil {
		return eq, p
	}
	if eq.Type != "" {
		if !eventTypes[eq.Type] {
			return eq, badRequest("type", "type must be an event type such as device.registered")
		}
		k := events.KindOfType(eq.Type)
		if eq.Kind == "" {
			eq.Kind = k
		} else if eq.Kind != k {
			return eq, badRequest("type", "type %s is not an event of kind %s", eq.Type, eq.Kind)
		}
	}
	if eq.Aggregate, p = single(q, "aggregate"); p != nil {
		return eq, p
	}
	if eq.Aggregate != "" {
		if eq.Kind == "" {
			return eq, badRequest("kind", "aggregate needs kind (device, stream, plan, shard, view, alarm, webhook or task)")
		}
		if !events.ValidAggregateID(eq.Kind, eq.Aggregate) {
			switch eq.Kind {
			case events.KindDevice:
				return eq, badRequest("aggregate", "aggregate must be a device id: %s", events.IDRule)
			case events.KindShard:
				return eq, badRequest("aggregate", "aggregate must be a shard number")
			case events.KindAlarm:
				return eq, badRequest("aggregate", "aggregate must be an alarm slot \"<device>~<channel>~<type>\"")
			case events.KindWebhook, events.KindTask:
				return eq, badRequest("aggregate", "aggregate must be a %s id: %s", eq.Kind, events.IDRule)
			}
			return eq, badRequest("aggregate", "aggregate must be \"<device>~<channel>\" with channel 1..%d", events.MaxChannels)
		}
	}
	if withLimit {
		eq.Limit = defaultEventLimit
		if v, p = single(q, "limit"); p != nil {
			return eq, p
		}
		if v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxEventLimit {
				return eq, badRequest("limit", "limit must be an integer between 1 and %d", maxEventLimit)
			}
			eq.Limit = n
		}
	}
	return eq, nil
}

// filters are the subject filters of the query (nil = every event).
func (eq eventQuery) filters(log EventLog) []string {
	if eq.Kind == "" {
		return nil
	}
	return []string{log.Subject(eq.Kind, eq.Aggregate)}
}

// match checks what subject filters cannot: type and time (and, in case
// the log's filters are coarser, kind and aggregate).
func (eq eventQuery) match(e events.Event) bool {
	env := e.Envelope
	if env == nil {
		return false
	}
	if eq.Kind != "" && env.GetAggregateKind() != eq.Kind {
		return false
	}
	if eq.Aggregate != "" && env.GetAggregateId() != eq.Aggregate {
		return false
	}
	if eq.Type != "" && eventType(env) != eq.Type {
		return false
	}
	if !eq.From.IsZero() || !eq.To.IsZero() {
		t := time.UnixMilli(env.GetTimeUnixMs())
		if !eq.From.IsZero() && t.Before(eq.From) {
			return false
		}
		if !eq.To.IsZero() && !t.Before(eq.To) {
			return false
		}
	}
	return true
}

// readPage reads up to eq.Limit matching events after eq.AfterSeq. next is
// the seq of the last item, or eq.AfterSeq when there is none.
func readPage(ctx context.Context, log EventLog, eq eventQuery) (items []eventItem, next uint64, err error) {
	items = make([]eventItem, 0, min(eq.Limit, 64))
	next = eq.AfterSeq
	err = log.Read(ctx, eq.filters(log), eq.AfterSeq, func(e events.Event) bool {
		if e.Seq <= next { // never go backwards or repeat, whatever the log does
			return true
		}
		if !eq.match(e) {
			return true
		}
		items = append(items, eventItemOf(e))
		next = e.Seq
		return len(items) < eq.Limit
	})
	return items, next, err
}

// GET /v1/events?after_seq=&from=&to=&type=&kind=&aggregate=&limit= → one
// page of the event log in seq order.
func (s *Server) replayEvents(c echo.Context) error {
	eq, p := parseEventQuery(c.QueryParams(), true, "")
	if p != nil {
		return p
	}
	if s.eventLog == nil {
		return unavailable("the event log is not served on this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	items, next, err := readPage(ctx, s.eventLog, eq)
	if err != nil {
		s.log.Warn("event replay", "request_id", requestID(c), "err", err)
		return unavailable("the event log did not answer; retry")
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items, "next_after_seq": next})
}

// sseFrame is one Server-Sent Event: id, event type and the item as JSON.
func sseFrame(it eventItem) ([]byte, error) {
	b, err := json.Marshal(it)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("id: ")
	buf.WriteString(strconv.FormatUint(it.Seq, 10))
	buf.WriteString("\nevent: ")
	buf.WriteString(it.Type)
	buf.WriteByte('\n')
	for line := range bytes.SplitSeq(b, []byte("\n")) { // json.Marshal is one line; be safe anyway
		buf.WriteString("data: ")
		buf.Write(line)
		buf.WriteByte('\n')
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// GET /v1/events/stream?after_seq=|last=&from=&to=&type=&kind=&aggregate=
// → text/event-stream of every matching event after after_seq (or the
// Last-Event-ID header; or among the last `last` events of the log),
// backlog first, then live; a comment every 15 s. The stream ends when the
// caller's key is deleted.
func (s *Server) streamEvents(c echo.Context) error {
	eq, p := parseEventQuery(c.QueryParams(), false, c.Request().Header.Get("Last-Event-ID"))
	if p != nil {
		return p
	}
	if s.eventLog == nil {
		return unavailable("the event log is not served on this node")
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	if eq.Last >= 0 {
		end, err := s.eventLog.LastSeq(ctx)
		if err != nil {
			return unavailable("the event log is unavailable; retry")
		}
		eq.AfterSeq = end - min(end, uint64(eq.Last))
	}
	caller, _ := principalOf(c)
	revoked := time.NewTicker(keyRecheck)
	defer revoked.Stop()

	items := make(chan eventItem, 256)
	done := make(chan error, 1)
	go func() {
		last := eq.AfterSeq
		done <- s.eventLog.Follow(ctx, eq.filters(s.eventLog), eq.AfterSeq, func(e events.Event) error {
			if e.Seq <= last || !eq.match(e) {
				return nil
			}
			last = e.Seq
			select {
			case items <- eventItemOf(e):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no")
	res.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(res, ": stream of /v1/events\n\n"); err != nil {
		return nil
	}
	res.Flush()

	heartbeat := time.NewTicker(sseHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case it := <-items:
			b, err := sseFrame(it)
			if err != nil {
				return nil
			}
			if _, err := res.Write(b); err != nil {
				return nil // the client went away
			}
			res.Flush()
		case <-heartbeat.C:
			if _, err := io.WriteString(res, ": heartbeat\n\n"); err != nil {
				return nil
			}
			res.Flush()
		case <-revoked.C:
			if !s.keyLive(caller) {
				return nil // its key was deleted: no more events
			}
		case err := <-done:
			// Follow ended: the client left, or the log failed; a client
			// resumes with Last-Event-ID. Deliver what was queued first.
			for {
				select {
				case it := <-items:
					if b, ferr := sseFrame(it); ferr == nil {
						if _, werr := res.Write(b); werr != nil {
							return nil
						}
					}
					continue
				default:
				}
				break
			}
			res.Flush()
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("event stream", "request_id", requestID(c), "err", err)
			}
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
