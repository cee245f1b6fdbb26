package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/argus-vms/argus/events/pb"
	"github.com/argus-vms/argus/notify/webhook"
	"github.com/labstack/echo/v4"
	"google.golang.org/protobuf/proto"
)

// Webhooks is the webhook side of the node (*shard.Host).
type Webhooks interface {
	AskWebhook(ctx context.Context, cmd proto.Message) (*pb.WebhookReply, error)
	ListWebhooks(ctx context.Context) ([]*pb.WebhookView, error)
	// SeqAt is the log sequence of the first event at or after t.
	SeqAt(ctx context.Context, t time.Time) (uint64, error)
}

type webhookJSON struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	CreatedBy      string    `json:"created_by,omitempty"`
	Node           string    `json:"node"`
	Concurrency    uint32    `json:"concurrency"`
	Version        uint64    `json:"version"`
	// Secret is shown once, in the answer to the create.
	Secret string `json:"secret,omitempty"`
}

func webhookView(v *pb.WebhookView) webhookJSON {
	return webhookJSON{ID: v.Id, URL: v.Url, Events: append([]string{}, v.Events...), Description: v.Description, Enabled: v.Enabled,
		DisabledReason: v.DisabledReason, CreatedAt: time.UnixMilli(v.CreatedAtUnixMs).UTC(), UpdatedAt: time.UnixMilli(v.UpdatedAtUnixMs).UTC(),
		CreatedBy: v.CreatedBy, Node: v.Node, Concurrency: v.Concurrency, Version: v.Version}
}

func (s *Server) askWebhook(c echo.Context, cmd proto.Message) (*pb.WebhookReply, error) {
	if s.webhooks == nil {
		return nil, unavailable("webhooks are not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	r, err := s.webhooks.AskWebhook(ctx, cmd)
	if err != nil || r == nil {
		s.log.Warn("webhook command unanswered", "request_id", requestID(c), "err", err)
		return nil, unavailable("the webhook's actor did not answer; retry")
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK {
		return nil, s.replyProblem(r)
	}
	return r, nil
}

type webhookRequest struct {
	ID          *string   `json:"id"`
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Secret      *string   `json:"secret"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
	Concurrency *int64    `json:"concurrency"`
}

// concurrencyOf checks the optional concurrency member.
func concurrencyOf(v *int64) (*uint32, *Problem) {
	if v == nil {
		return nil, nil
	}
	if *v < 1 || *v > 64 {
		return nil, badRequest("concurrency", "concurrency must be 1..64")
	}
	n := uint32(*v)
	return &n, nil
}

// POST /v1/webhooks (admin): {url, events, secret?, description?, id?} →
// 201 with the secret, shown only here (one is generated when not given).
func (s *Server) createWebhook(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req webhookRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	cmd := &pb.CreateWebhook{Meta: meta(c), Id: "wh-" + newDeviceID()}
	if req.ID != nil {
		if p := checkID(*req.ID); p != nil {
			return p
		}
		cmd.Id = *req.ID
	}
	switch {
	case req.Enabled != nil:
		return badRequest("enabled", "a new webhook is enabled; PATCH disables it")
	case req.URL == nil:
		return badRequest("url", "url is required")
	case req.Events == nil:
		return badRequest("events", "events is required: filters such as [\"alarm.*\", \"device.offline\"]")
	}
	cmd.Url, cmd.Events = *req.URL, *req.Events
	cmd.Secret = webhook.NewSecret()
	if req.Secret != nil {
		if err := webhook.CheckSecret(*req.Secret); err != nil {
			return badRequest("secret", "%v", err)
		}
		cmd.Secret = *req.Secret
	}
	if req.Description != nil {
		cmd.Description = *req.Description
	}
	conc, p := concurrencyOf(req.Concurrency)
	if p != nil {
		return p
	}
	if conc != nil {
		cmd.Concurrency = *conc
	}
	if p, ok := principalOf(c); ok {
		cmd.By = p.KeyID
	}
	r, err := s.askWebhook(c, cmd)
	if err != nil {
		return err
	}
	out := webhookView(r.Webhook)
	out.Secret = cmd.Secret
	c.Response().Header().Set(echo.HeaderLocation, "/v1/webhooks/"+out.ID)
	return writeJSON(c, http.StatusCreated, out)
}

// GET /v1/webhooks (admin)
func (s *Server) listWebhooks(c echo.Context) error {
	if s.webhooks == nil {
		return unavailable("webhooks are not served by this node")
	}
	ctx, cancel := contextWithTimeout(c, s.timeout)
	defer cancel()
	items, err := s.webhooks.ListWebhooks(ctx)
	if err != nil {
		s.log.Warn("list webhooks", "request_id", requestID(c), "err", err)
		return unavailable("the webhook list is unavailable; retry")
	}
	out := struct {
		Items []webhookJSON `json:"items"`
	}{Items: make([]webhookJSON, 0, len(items))}
	for _, v := range items {
		out.Items = append(out.Items, webhookView(v))
	}
	return writeJSON(c, http.StatusOK, out)
}

// GET /v1/webhooks/{id} (admin)
func (s *Server) getWebhook(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	r, err := s.askWebhook(c, &pb.GetWebhook{Id: id})
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, webhookView(r.Webhook))
}

// PATCH /v1/webhooks/{id} (admin): url, events, description, enabled.
func (s *Server) patchWebhook(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req webhookRequest
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	switch {
	case req.ID != nil:
		return badRequest("id", "a webhook's id does not change")
	case req.Secret != nil:
		return badRequest("secret", "a webhook's secret does not change: create a new webhook")
	}
	conc, p := concurrencyOf(req.Concurrency)
	if p != nil {
		return p
	}
	cmd := &pb.UpdateWebhook{Meta: meta(c), Id: id, Url: req.URL, Description: req.Description, Enabled: req.Enabled, Concurrency: conc}
	if req.Events != nil {
		cmd.Events = &pb.WebhookEventFilter{Events: *req.Events}
	}
	r, err := s.askWebhook(c, cmd)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, webhookView(r.Webhook))
}

// DELETE /v1/webhooks/{id} (admin)
func (s *Server) deleteWebhook(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	if _, err := s.askWebhook(c, &pb.DeleteWebhook{Meta: meta(c), Id: id}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type deliveryJSON struct {
	EventID   string    `json:"event_id"`
	Seq       uint64    `json:"seq"`
	Type      string    `json:"type"`
	Device    string    `json:"device,omitempty"`
	Attempt   uint32    `json:"attempt"`
	Time      time.Time `json:"time"`
	Status    int32     `json:"status"`
	LatencyMS float64   `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
	Outcome   string    `json:"outcome"`
}

// GET /v1/webhooks/{id}/deliveries?limit= (admin): the newest delivery
// attempts of the node delivering it.
func (s *Server) webhookDeliveries(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	limit := defaultPageLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return badRequest("limit", "limit must be an integer between 1 and 200")
		}
		limit = n
	}
	r, err := s.askWebhook(c, &pb.GetWebhook{Id: id, Deliveries: uint32(limit)})
	if err != nil {
		return err
	}
	out := struct {
		Node  string         `json:"node"`
		Items []deliveryJSON `json:"items"`
	}{Node: r.Webhook.GetNode(), Items: make([]deliveryJSON, 0, len(r.Deliveries))}
	for _, d := range r.Deliveries {
		out.Items = append(out.Items, deliveryJSON{EventID: d.EventId, Seq: d.Seq, Type: d.Type, Device: d.Device, Attempt: d.Attempt,
			Time: time.UnixMilli(d.TimeUnixMs).UTC(), Status: d.Status, LatencyMS: float64(d.LatencyUs) / 1000, Error: d.Error, Outcome: d.Outcome})
	}
	return writeJSON(c, http.StatusOK, out)
}

// POST /v1/webhooks/{id}/replay {"from_seq": N} | {"from": RFC 3339}
// (admin): deliveries start again at that event (duplicates keep their
// webhook-id). 202 with the sequence they start at.
func (s *Server) replayWebhook(c echo.Context) error {
	id, p := pathID(c)
	if p != nil {
		return p
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var req struct {
		FromSeq *json.Number `json:"from_seq"`
		From    *string      `json:"from"`
	}
	if p := decodeStrict(b, &req); p != nil {
		return p
	}
	var from uint64
	switch {
	case (req.FromSeq == nil) == (req.From == nil):
		return badRequest("from_seq", "give from_seq (a log sequence) or from (RFC 3339), one of them")
	case req.FromSeq != nil:
		n, err := strconv.ParseUint(req.FromSeq.String(), 10, 64)
		if err != nil || n < 1 {
			return badRequest("from_seq", "from_seq must be a log sequence (1 or more)")
		}
		from = n
	default:
		t, err := time.Parse(time.RFC3339Nano, *req.From)
		if err != nil {
			return badRequest("from", "from must be an RFC 3339 time")
		}
		if s.webhooks == nil {
			return unavailable("webhooks are not served by this node")
		}
		ctx, cancel := contextWithTimeout(c, s.timeout)
		defer cancel()
		if from, err = s.webhooks.SeqAt(ctx, t); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return unavailable("the event log did not answer; retry")
			}
			return unavailable("the event log did not answer: %v", err)
		}
	}
	by := ""
	if pr, ok := principalOf(c); ok {
		by = pr.KeyID
	}
	if _, err := s.askWebhook(c, &pb.ReplayWebhook{Meta: meta(c), Id: id, FromSeq: from, By: by}); err != nil {
		return err
	}
	return writeJSON(c, http.StatusAccepted, map[string]any{"from_seq": from})
}
