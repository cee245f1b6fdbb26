// Package payload is the one JSON form of an outbound notification: the
// webhook body and the MQTT and NATS payload alike. Its fields agree with
// the replay API's event items (GET /v1/events), so a consumer parses both
// the same way.
package payload

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
)

// Notification is what every channel delivers (webhook body, MQTT and NATS
// payload).
type Notification struct {
	ID        string          `json:"id"`   // the event id (the log's envelope id) — webhook-id too
	Type      string          `json:"type"` // e.g. "alarm.raised", "device.offline"
	Seq       uint64          `json:"seq"`  // the log sequence
	Time      time.Time       `json:"time"` // RFC 3339 with ms, UTC
	Device    string          `json:"device,omitempty"`
	Aggregate string          `json:"aggregate"` // aggregate id
	Kind      string          `json:"kind"`      // aggregate kind
	Data      json.RawMessage `json:"data"`      // the event's data with secrets removed
}

// timeLayout is the replay API's: RFC 3339 with exactly three fraction
// digits, so times sort and compare as strings.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// wire is Notification with its time as the string the replay API writes.
type wire struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Seq       uint64          `json:"seq"`
	Time      string          `json:"time"`
	Device    string          `json:"device,omitempty"`
	Aggregate string          `json:"aggregate"`
	Kind      string          `json:"kind"`
	Data      json.RawMessage `json:"data"`
}

// MarshalJSON writes the time in UTC with milliseconds (encoding/json would
// drop trailing zeros of the fraction) and data as {} when empty.
func (n Notification) MarshalJSON() ([]byte, error) {
	data := n.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return json.Marshal(wire{
		ID: n.ID, Type: n.Type, Seq: n.Seq, Time: n.Time.UTC().Format(timeLayout),
		Device: n.Device, Aggregate: n.Aggregate, Kind: n.Kind, Data: data,
	})
}

// UnmarshalJSON reads what MarshalJSON writes (any RFC 3339 time).
func (n *Notification) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return fmt.Errorf("payload: time: %w", err)
	}
	*n = Notification{
		ID: w.ID, Type: w.Type, Seq: w.Seq, Time: t.UTC(),
		Device: w.Device, Aggregate: w.Aggregate, Kind: w.Kind, Data: w.Data,
	}
	return nil
}

// FromEvent builds the notification of one logged event. Its data is
// events.DataJSON: secrets never leave the log.
func FromEvent(e events.Event) (Notification, error) {
	env := e.Envelope
	if env == nil {
		return Notification{}, errors.New("payload: event without an envelope")
	}
	if env.GetEventId() == "" {
		return Notification{}, fmt.Errorf("payload: event %d has no id", e.Seq)
	}
	typ := eventType(env)
	if typ == "" {
		return Notification{}, fmt.Errorf("payload: event %s has no type", env.GetEventId())
	}
	kind, id := env.GetAggregateKind(), env.GetAggregateId()
	return Notification{
		ID:        env.GetEventId(),
		Type:      typ,
		Seq:       e.Seq,
		Time:      time.UnixMilli(env.GetTimeUnixMs()).UTC(),
		Device:    events.DeviceOf(kind, id),
		Aggregate: id,
		Kind:      kind,
		Data:      json.RawMessage(events.DataJSON(env)),
	}, nil
}

// eventType is the stamped type, or the one its payload implies (as the
// replay API does for envelopes stamped before types were stored).
func eventType(env *pb.Envelope) string {
	if t := env.GetType(); t != "" {
		return t
	}
	return events.TypeOf(env)
}
