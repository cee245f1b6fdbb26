package onvifsrv

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// motionTopic is the one topic this camera raises, as a ConcreteSet
// expression under the tns1 prefix the envelope declares.
const motionTopic = "tns1:RuleEngine/CellMotionDetector/Motion"

const (
	dialectConcreteSet = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
	dialectConcrete    = "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
	dialectItemFilter  = "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
)

// eventOps are the event service (ver10 events WSDL): pull points only.
var eventOps = map[string]operation{
	"GetServiceCapabilities":      {preAuth: true, handle: (*call).eventServiceCapabilities},
	"GetEventProperties":          {handle: (*call).getEventProperties},
	"CreatePullPointSubscription": {handle: (*call).createPullPointSubscription},
	"PullMessages":                {handle: (*call).pullMessages},
	"SetSynchronizationPoint":     {handle: (*call).setSynchronizationPoint},
}

// notificationOps are WS-BaseNotification's subscription manager calls.
var notificationOps = map[string]operation{
	"Renew":       {handle: (*call).renew},
	"Unsubscribe": {handle: (*call).unsubscribe},
}

func eventCapabilities() node {
	return el("tev:Capabilities").attr("WSSubscriptionPolicySupport", "false").
		attr("WSPullPointSupport", "true").attr("WSPausableSubscriptionManagerInterfaceSupport", "false").
		attr("MaxNotificationProducers", "0").attr("MaxPullPoints", itoa(maxSubscriptions)).
		attr("PersistentNotificationStorage", "false")
}

func (c *call) eventServiceCapabilities() (node, error) {
	return el("tev:GetServiceCapabilitiesResponse", eventCapabilities()), nil
}

func (c *call) getEventProperties() (node, error) {
	item := func(name, typ string) node {
		return el("tt:SimpleItemDescription").attr("Name", name).attr("Type", typ)
	}
	motion := el("Motion",
		el("tt:MessageDescription",
			el("tt:Source", item("VideoSourceConfigurationToken", "tt:ReferenceToken"), item("Rule", "xs:string")),
			el("tt:Data", item("IsMotion", "xs:boolean")),
		).attr("IsProperty", "true"),
	).attr("wstop:topic", "true")
	return el("tev:GetEventPropertiesResponse",
		leaf("tev:TopicNamespaceLocation", "http://www.onvif.org/onvif/ver10/topics/topicns.xml"),
		leaf("wsnt:FixedTopicSet", "true"),
		el("wstop:TopicSet", el("tns1:RuleEngine", el("CellMotionDetector", motion))),
		leaf("wsnt:TopicExpressionDialect", dialectConcreteSet),
		leaf("wsnt:TopicExpressionDialect", dialectConcrete),
		leaf("tev:MessageContentFilterDialect", dialectItemFilter),
		leaf("tev:MessageContentSchemaLocation", "http://www.onvif.org/onvif/ver10/schema/onvif.xsd"),
	), nil
}

// subscriptionURL is a subscription manager's address.
func (s *Server) subscriptionURL(id string) string { return s.base + subscriptionPath + id }

// terminationArg reads an optional termination time (duration or
// absolute), def when absent, as a lifetime: relative ones (and the
// default) are also kept up by PullMessages, absolute ones are not.
func (c *call) terminationArg(local string, def time.Duration) (lifetime, error) {
	e := c.op.child(local)
	if e == nil || e.text() == "" {
		return lifetime{ttl: def, keepAlive: true}, nil
	}
	d, relative, err := parseTermination(e.text(), c.s.cameraNow())
	if err != nil {
		return lifetime{}, faultInvalidArgs(local + ": " + err.Error())
	}
	if d <= 0 {
		return lifetime{}, senderFault(local+" is not in the future", "wsntw:Unacceptable"+local+"Fault")
	}
	return lifetime{ttl: d, keepAlive: relative}, nil
}

// The message filter, if any, is accepted and ignored: this camera has one
// topic, so every subscription gets it.
func (c *call) createPullPointSubscription() (node, error) {
	life, err := c.terminationArg("InitialTerminationTime", defaultSubscription)
	if err != nil {
		return node{}, err
	}
	sub, now, err := c.run.events.create(life)
	if err != nil {
		return node{}, receiverFault("cannot create a pull point: "+err.Error(), "ter:Action", "ter:TooManySubscriptions")
	}
	c.s.log.Debug("pull point created", "id", sub.id, "ttl", life.ttl)
	return el("tev:CreatePullPointSubscriptionResponse",
		el("tev:SubscriptionReference", leaf("wsa:Address", c.s.subscriptionURL(sub.id))),
		leaf("wsnt:CurrentTime", xsDateTime(now)),
		leaf("wsnt:TerminationTime", xsDateTime(sub.expires)),
	), nil
}

func (c *call) subscriptionFault(err error) error {
	if errors.Is(err, errNoSubscription) || errors.Is(err, errSubscriptionEnded) {
		return faultNoSubscription(c.subID)
	}
	return err
}

func (c *call) pullMessages() (node, error) {
	timeout := time.Duration(0)
	if t := c.op.child("Timeout"); t != nil {
		d, err := parseXSDuration(t.text())
		if err != nil || d < 0 {
			return node{}, faultInvalidArgs("Timeout " + quoteToken(t.text()) + " is not an xs:duration")
		}
		timeout = min(d, maxPullTimeout)
	}
	limit := 1
	if l := c.op.child("MessageLimit"); l != nil {
		n, err := strconv.Atoi(l.text())
		if err != nil {
			return node{}, faultInvalidArgs("MessageLimit " + quoteToken(l.text()) + " is not an integer")
		}
		limit = min(max(n, 1), maxMessageLimit)
	}
	msgs, now, expires, err := c.run.events.pull(c.ctx, c.subID, timeout, limit)
	if err != nil {
		return node{}, c.subscriptionFault(err)
	}
	resp := el("tev:PullMessagesResponse",
		leaf("tev:CurrentTime", xsDateTime(now)),
		leaf("tev:TerminationTime", xsDateTime(expires)),
	)
	for _, m := range msgs {
		resp = resp.add(c.s.notificationNode(c.subID, m))
	}
	return resp, nil
}

func (s *Server) notificationNode(subID string, m notification) node {
	item := func(name, value string) node { return el("tt:SimpleItem").attr("Name", name).attr("Value", value) }
	return el("wsnt:NotificationMessage",
		el("wsnt:SubscriptionReference", leaf("wsa:Address", s.subscriptionURL(subID))),
		leaf("wsnt:Topic", motionTopic).attr("Dialect", dialectConcreteSet),
		el("wsnt:ProducerReference", leaf("wsa:Address", s.base+eventsPath)),
		el("wsnt:Message",
			el("tt:Message",
				el("tt:Source", item("VideoSourceConfigurationToken", m.source), item("Rule", motionRule)),
				el("tt:Data", item("IsMotion", btoa(m.motion))),
			).attr("UtcTime", xsDateTimeMillis(m.at)).attr("PropertyOperation", m.op),
		),
	)
}

func (c *call) setSynchronizationPoint() (node, error) {
	if err := c.run.events.synchronize(c.subID); err != nil {
		return node{}, c.subscriptionFault(err)
	}
	return el("tev:SetSynchronizationPointResponse"), nil
}

func (c *call) renew() (node, error) {
	life, err := c.terminationArg("TerminationTime", defaultSubscription)
	if err != nil {
		return node{}, err
	}
	now, expires, err := c.run.events.renew(c.subID, life)
	if err != nil {
		return node{}, c.subscriptionFault(err)
	}
	return el("wsnt:RenewResponse",
		leaf("wsnt:TerminationTime", xsDateTime(expires)),
		leaf("wsnt:CurrentTime", xsDateTime(now)),
	), nil
}

func (c *call) unsubscribe() (node, error) {
	if err := c.run.events.unsubscribe(c.subID); err != nil {
		return node{}, c.subscriptionFault(err)
	}
	return el("wsnt:UnsubscribeResponse"), nil
}

// RaiseMotion sets a source's motion state and queues a
// tns1:RuleEngine/CellMotionDetector/Motion event (IsMotion = on) for
// every subscription. source names the video source by its configuration
// token ("VideoSourceConfig_1"), its token ("VideoSource_1") or a profile
// token; anything else is sent as given. On a closed server it does
// nothing.
func (s *Server) RaiseMotion(source string, on bool) {
	r := s.current()
	if r == nil {
		return
	}
	r.events.raise(s.sourceConfToken(source), on)
}

func (s *Server) sourceConfToken(source string) string {
	if ch := s.byToken[source]; ch != nil {
		return ch.sourceConfToken
	}
	for _, ch := range s.chans {
		if source == ch.sourceToken || source == ch.sourceConfToken {
			return ch.sourceConfToken
		}
	}
	return source
}

// Subscriptions is the number of live pull-point subscriptions.
func (s *Server) Subscriptions() int {
	r := s.current()
	if r == nil {
		return 0
	}
	return r.events.count()
}

// motionLoop alternates motion on and off on every source each
// MotionEvery.
func (s *Server) motionLoop(ctx context.Context, h *hub) {
	t := time.NewTicker(s.o.MotionEvery)
	defer t.Stop()
	on := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		on = !on
		for _, ch := range s.chans {
			h.raise(ch.sourceConfToken, on)
		}
	}
}
