package onvif

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Actions of the event service and of WS-BaseNotification's subscription
// manager.
const (
	actionCreatePullPoint = NSEvents + "/EventPortType/CreatePullPointSubscriptionRequest"
	actionPullMessages    = NSEvents + "/PullPointSubscription/PullMessagesRequest"
	actionRenew           = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest"
	actionUnsubscribe     = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest"
)

// defaultPullLimit is the message limit of a Pull asked for 0 messages.
const defaultPullLimit = 100

// PullPoint is a pull-point subscription to the camera's events.
type PullPoint struct {
	c         *Client
	address   string
	refParams []byte

	mu          sync.Mutex
	termination time.Time
}

type createPullPointSubscription struct {
	XMLName                struct{} `xml:"http://www.onvif.org/ver10/events/wsdl CreatePullPointSubscription"`
	InitialTerminationTime string   `xml:"InitialTerminationTime,omitempty"`
}

type createPullPointResponse struct {
	SubscriptionReference struct {
		Address             string               `xml:"Address"`
		ReferenceParameters *referenceParameters `xml:"ReferenceParameters"`
	} `xml:"SubscriptionReference"`
	TerminationTime string `xml:"TerminationTime"`
}

// Subscribe creates a pull-point subscription that lasts termination
// unless renewed (0: the camera's default). A camera that answers no
// subscription address is pulled at its event service.
func (c *Client) Subscribe(ctx context.Context, termination time.Duration) (*PullPoint, error) {
	body := createPullPointSubscription{}
	if termination > 0 {
		body.InitialTerminationTime = FormatDuration(termination)
	}
	events := c.EventsURL()
	var out createPullPointResponse
	r := request{endpoint: events, action: actionCreatePullPoint, body: body, addressing: true}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	ref := out.SubscriptionReference
	address := resolveXAddr(c.device, strings.TrimSpace(ref.Address))
	if address == "" {
		address = events
	}
	return &PullPoint{
		c:           c,
		address:     address,
		refParams:   ref.ReferenceParameters.headerBlocks(),
		termination: parseUTC(out.TerminationTime),
	}, nil
}

// Address is the subscription's address.
func (p *PullPoint) Address() string { return p.address }

// TerminationTime is when the camera will end the subscription, by its
// clock; zero when it did not say.
func (p *PullPoint) TerminationTime() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.termination
}

func (p *PullPoint) request(action string, body any) request {
	return request{endpoint: p.address, action: action, body: body, addressing: true, extra: p.refParams}
}

type pullMessages struct {
	XMLName      struct{} `xml:"http://www.onvif.org/ver10/events/wsdl PullMessages"`
	Timeout      string   `xml:"Timeout"`
	MessageLimit int      `xml:"MessageLimit"`
}

// Pull waits up to timeout for at most limit notifications (0: 100). The
// call's deadline is the client's Timeout plus timeout.
func (p *PullPoint) Pull(ctx context.Context, timeout time.Duration, limit int) ([]Notification, error) {
	if limit <= 0 {
		limit = defaultPullLimit
	}
	r := p.request(actionPullMessages, pullMessages{Timeout: FormatDuration(timeout), MessageLimit: limit})
	r.wait = timeout
	env, err := p.c.roundTrip(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := parsePullMessages(env.doc)
	if err != nil {
		return nil, p.c.wrap(r, err)
	}
	if !res.termination.IsZero() {
		p.mu.Lock()
		p.termination = res.termination
		p.mu.Unlock()
	}
	return res.notifications, nil
}

type renew struct {
	XMLName         struct{} `xml:"http://docs.oasis-open.org/wsn/b-2 Renew"`
	TerminationTime string   `xml:"TerminationTime"`
}

type renewResponse struct {
	TerminationTime string `xml:"TerminationTime"`
}

// Renew extends the subscription to termination from now.
func (p *PullPoint) Renew(ctx context.Context, termination time.Duration) error {
	var out renewResponse
	if err := p.c.call(ctx, p.request(actionRenew, renew{TerminationTime: FormatDuration(termination)}), &out); err != nil {
		return err
	}
	if t := parseUTC(out.TerminationTime); !t.IsZero() {
		p.mu.Lock()
		p.termination = t
		p.mu.Unlock()
	}
	return nil
}

type unsubscribe struct {
	XMLName struct{} `xml:"http://docs.oasis-open.org/wsn/b-2 Unsubscribe"`
}

// Unsubscribe ends the subscription.
func (p *PullPoint) Unsubscribe(ctx context.Context) error {
	return p.c.call(ctx, p.request(actionUnsubscribe, unsubscribe{}), nil)
}
