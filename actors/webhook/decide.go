package webhook

import (
	"fmt"
	"unicode/utf8"

	"github.com/argus-vms/argus/actors/aggregate"
	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/payload"
	"github.com/argus-vms/argus/notify/webhook"
)

// Limits of a webhook's fields.
const (
	MaxFilters     = 32
	MaxDescription = 500
	MaxConcurrency = 64
)

func checkConcurrency(n uint32) *aggregate.Rejection {
	if n > MaxConcurrency {
		return invalid("concurrency", "concurrency must be 1..%d", MaxConcurrency)
	}
	return nil
}

func invalid(field, format string, a ...any) *aggregate.Rejection {
	return &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_INVALID, Field: field, Detail: fmt.Sprintf(format, a...)}
}

// CheckURL validates a target (the SSRF guard refuses private targets
// unless allowed; the dialer checks again at every delivery).
func CheckURL(url string, allowPrivate bool) *aggregate.Rejection {
	if err := webhook.CheckURL(url, allowPrivate); err != nil {
		return invalid("url", "%v", err)
	}
	return nil
}

// CheckEvents validates event filters.
func CheckEvents(filters []string) *aggregate.Rejection {
	if len(filters) == 0 || len(filters) > MaxFilters {
		return invalid("events", "events must list 1..%d filters such as alarm.*, device.offline or *", MaxFilters)
	}
	for _, f := range filters {
		if !payload.ValidFilter(f) {
			return invalid("events", "%q is not an event filter (an event type such as device.offline, a prefix such as alarm.*, or *)", f)
		}
	}
	return nil
}

func checkDescription(d string) *aggregate.Rejection {
	if utf8.RuneCountInString(d) > MaxDescription || !utf8.ValidString(d) {
		return invalid("description", "description must be valid UTF-8 of at most %d characters", MaxDescription)
	}
	return nil
}

// DecideCreate creates the webhook (its secret sealed by seal).
func DecideCreate(s *State, m *pb.CreateWebhook, allowPrivate bool, seal func(string) []byte) (*pb.Envelope, *aggregate.Rejection) {
	if s.Registered {
		return nil, &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_ALREADY_EXISTS, Field: "id", Detail: "a webhook with this id exists"}
	}
	if r := CheckURL(m.Url, allowPrivate); r != nil {
		return nil, r
	}
	if r := CheckEvents(m.Events); r != nil {
		return nil, r
	}
	if r := checkDescription(m.Description); r != nil {
		return nil, r
	}
	if r := checkConcurrency(m.Concurrency); r != nil {
		return nil, r
	}
	if err := webhook.CheckSecret(m.Secret); err != nil {
		return nil, invalid("secret", "%v", err)
	}
	sealed := seal(m.Secret)
	return &pb.Envelope{Payload: &pb.Envelope_WebhookCreated{WebhookCreated: &pb.WebhookCreated{Url: m.Url, Events: m.Events,
		SealedSecret: sealed, Description: m.Description, CreatedBy: m.By, Concurrency: m.Concurrency}}}, nil
}

func notFound() *aggregate.Rejection {
	return &aggregate.Rejection{Code: pb.ReplyCode_REPLY_CODE_NOT_FOUND, Detail: "no such webhook"}
}

// DecideUpdate changes what the patch sets (nothing changed: no event).
func DecideUpdate(s *State, m *pb.UpdateWebhook, allowPrivate bool) (*pb.Envelope, *aggregate.Rejection) {
	if !s.Registered {
		return nil, notFound()
	}
	u := &pb.WebhookUpdated{}
	changed := false
	if m.Url != nil && *m.Url != s.URL {
		if r := CheckURL(*m.Url, allowPrivate); r != nil {
			return nil, r
		}
		u.Url, changed = m.Url, true
	}
	if m.Events != nil {
		if r := CheckEvents(m.Events.Events); r != nil {
			return nil, r
		}
		u.Events, changed = m.Events, true
	}
	if m.Description != nil && *m.Description != s.Description {
		if r := checkDescription(*m.Description); r != nil {
			return nil, r
		}
		u.Description, changed = m.Description, true
	}
	if m.Concurrency != nil && *m.Concurrency != s.Concurrency {
		if r := checkConcurrency(*m.Concurrency); r != nil {
			return nil, r
		}
		u.Concurrency, changed = m.Concurrency, true
	}
	if m.Enabled != nil && *m.Enabled != s.Enabled {
		u.Enabled, changed = m.Enabled, true
	}
	if !changed {
		return nil, nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_WebhookUpdated{WebhookUpdated: u}}, nil
}

// DecideDelete deletes the webhook.
func DecideDelete(s *State) (*pb.Envelope, *aggregate.Rejection) {
	if !s.Registered {
		return nil, notFound()
	}
	return &pb.Envelope{Payload: &pb.Envelope_WebhookDeleted{WebhookDeleted: &pb.WebhookDeleted{}}}, nil
}

// DecideReplay starts deliveries again from a sequence.
func DecideReplay(s *State, m *pb.ReplayWebhook) (*pb.Envelope, *aggregate.Rejection) {
	if !s.Registered {
		return nil, notFound()
	}
	if m.FromSeq < 1 {
		return nil, invalid("from_seq", "from_seq must be at least 1")
	}
	return &pb.Envelope{Payload: &pb.Envelope_WebhookReplayed{WebhookReplayed: &pb.WebhookReplayed{FromSeq: m.FromSeq, By: m.By}}}, nil
}

// DecideGone disables the webhook because its endpoint answered 410.
func DecideGone(s *State, status int) *pb.Envelope {
	if !s.Registered || !s.Enabled {
		return nil
	}
	return &pb.Envelope{Payload: &pb.Envelope_WebhookDisabled{WebhookDisabled: &pb.WebhookDisabled{
		Reason: fmt.Sprintf("the endpoint answered %d Gone", status), Status: int32(status)}}}
}
