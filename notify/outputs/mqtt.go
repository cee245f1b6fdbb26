package outputs

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/mqtt"
	"github.com/argus-vms/argus/notify/payload"
)

// MQTT publishes to an external broker at QoS 1: every event the filter
// takes on argus/events/<type>, alarms also on argus/alarms/<device>, and
// each device's status retained on argus/devices/<id>/status (cleared when
// the device is removed).
func MQTT(o mqtt.Options, filter []string) Output {
	return Output{
		Name: "mqtt",
		Match: func(n payload.Notification) bool {
			return payload.Match(filter, n.Type) || statusOf(n.Type) != ""
		},
		Open: func(ctx context.Context) (Sink, error) {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			p, err := mqtt.Dial(dctx, o)
			if err != nil {
				return nil, err
			}
			return &mqttSink{p: p, filter: filter}, nil
		},
	}
}

type mqttSink struct {
	p      *mqtt.Publisher
	filter []string
}

func (s *mqttSink) Close() { s.p.Close() }

// statusOf is the retained status an event sets ("gone": cleared).
func statusOf(eventType string) string {
	switch eventType {
	case "device.online":
		return "online"
	case "device.offline":
		return "offline"
	case "device.removed":
		return "gone"
	}
	return ""
}

func (s *mqttSink) Deliver(ctx context.Context, n payload.Notification, body []byte) delivery.Result {
	start := time.Now()
	pub := func(topic string, b []byte, retained bool) error { return s.p.Publish(ctx, topic, b, retained) }
	var err error
	if payload.Match(s.filter, n.Type) {
		if strings.HasPrefix(n.Type, "alarm.") && n.Device != "" {
			err = pub(mqtt.AlarmTopic(n.Device), body, false)
		}
		if err == nil {
			err = pub(mqtt.EventTopic(n.Type), body, false)
		}
	}
	if st := statusOf(n.Type); err == nil && st != "" && n.Device != "" {
		var b []byte // an empty retained message clears the topic
		if st != "gone" {
			b, _ = json.Marshal(map[string]any{"device": n.Device, "status": st, "time": n.Time, "seq": n.Seq})
		}
		err = pub(mqtt.StatusTopic(n.Device), b, true)
	}
	if err != nil {
		return delivery.Result{Retry: true, Err: err, Latency: time.Since(start)}
	}
	return delivery.Result{OK: true, Latency: time.Since(start)}
}
