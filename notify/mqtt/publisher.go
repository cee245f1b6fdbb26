// Package mqtt publishes Argus's notifications to an external MQTT broker
// (paho, MQTT 3.1.1) at QoS 1: Publish returns once the broker has the
// message (PUBACK). The session is persistent (clean session false) under a
// client id stable per node, so QoS 1 messages in flight when the
// connection drops are sent again after paho reconnects. Delivery is at
// least once: a Publish that gave up (ctx) may still reach the broker.
package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/backoff"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Options configure a Publisher.
type Options struct {
	URL                string      // mqtt://host:1883, mqtts://host:8883 (also tcp://, ssl://, tls://); port defaults by scheme
	Username, Password string      // else from the URL's userinfo, else none
	ClientID           string      // required, stable per node ("argus-<node>"): the broker keeps the session under it
	TLS                *tls.Config // for mqtts/ssl/tls (nil: system roots)
	Log                *slog.Logger
}

// Timings: connect and write bounds, and how far reconnect attempts back
// off (paho starts at 1 s and doubles).
const (
	connectTimeout = 10 * time.Second
	writeTimeout   = 10 * time.Second
	maxReconnect   = 30 * time.Second
	keepAlive      = 30 * time.Second
)

// Publisher is one connection to a broker; safe for concurrent use.
type Publisher struct {
	c   paho.Client
	log *slog.Logger
}

// Dial connects to the broker and returns once connected, or when ctx ends.
// Network failures are retried with backoff until then; a broker that
// refuses the client (credentials, authorization, client id) fails at once.
func Dial(ctx context.Context, o Options) (*Publisher, error) {
	broker, user, pass, err := brokerURL(o)
	if err != nil {
		return nil, err
	}
	if o.ClientID == "" {
		return nil, errors.New("mqtt: a client id is required (stable per node, e.g. argus-<node>)")
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{log: log.With("broker", broker.Host)}
	opts := paho.NewClientOptions()
	opts.Servers = []*url.URL{broker}
	opts.SetClientID(o.ClientID).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(false). // Dial retries itself, to fail fast on refusals
		SetMaxReconnectInterval(maxReconnect).
		SetConnectTimeout(connectTimeout).
		SetWriteTimeout(writeTimeout).
		SetKeepAlive(keepAlive).
		SetDialer(&net.Dialer{Timeout: connectTimeout, KeepAlive: keepAlive}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			p.log.Warn("mqtt connection lost; reconnecting", "err", err)
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			p.log.Debug("mqtt reconnecting")
		}).
		SetOnConnectHandler(func(paho.Client) { p.log.Info("mqtt connected") })
	if tlsScheme(broker.Scheme) {
		cfg := o.TLS
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opts.SetTLSConfig(cfg)
	}

	b := backoff.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for {
		// A fresh client per attempt: paho does not promise that a client
		// whose Connect failed can connect again.
		c := paho.NewClient(opts)
		tok := c.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			go func() { <-tok.Done(); c.Disconnect(0) }()
			return nil, fmt.Errorf("mqtt: connect to %s: %w", broker.Host, ctx.Err())
		}
		err := tok.Error()
		if err == nil {
			p.c = c
			return p, nil
		}
		if refusal(tok) {
			return nil, fmt.Errorf("mqtt: connect to %s refused: %w", broker.Host, err)
		}
		p.log.Debug("mqtt connect failed; retrying", "err", err)
		select {
		case <-time.After(b.Next()):
		case <-ctx.Done():
			return nil, fmt.Errorf("mqtt: connect to %s: %w (last: %v)", broker.Host, ctx.Err(), err)
		}
	}
}

// refusal reports whether the broker answered the CONNECT with a refusal
// another attempt would get too (not "server unavailable"), or presented a
// certificate that does not verify.
func refusal(tok paho.Token) bool {
	var cv *tls.CertificateVerificationError
	if errors.As(tok.Error(), &cv) {
		return true
	}
	ct, ok := tok.(*paho.ConnectToken)
	if !ok {
		return false
	}
	switch ct.ReturnCode() {
	case packets.ErrRefusedBadProtocolVersion, packets.ErrRefusedIDRejected,
		packets.ErrRefusedBadUsernameOrPassword, packets.ErrRefusedNotAuthorised:
		return true
	}
	return false
}

// Publish sends payload to topic at QoS 1 and waits for the broker's
// PUBACK or ctx. While paho reconnects the message waits in its store and
// goes out once connected. retained is for status topics: the broker keeps
// the last one for later subscribers.
func (p *Publisher) Publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	// paho's Publish may block up to the write timeout handing the message
	// to its writer: wait for it here so ctx is honoured throughout.
	toks := make(chan paho.Token, 1)
	go func() { toks <- p.c.Publish(topic, 1, retained, payload) }()
	var tok paho.Token
	select {
	case tok = <-toks:
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish %s: %w", topic, ctx.Err())
	}
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return fmt.Errorf("mqtt: publish %s: %w", topic, ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: publish %s: %w", topic, err)
	}
	return nil
}

// Close disconnects, giving in-flight work a quarter second.
func (p *Publisher) Close() { p.c.Disconnect(250) }

// checkTopic refuses what MQTT forbids in a topic to publish to: empty,
// wildcards, NUL, more than 65535 bytes.
func checkTopic(topic string) error {
	if topic == "" || len(topic) > 65535 || strings.ContainsAny(topic, "+#\x00") {
		return fmt.Errorf("mqtt: %q is not a topic to publish to", topic)
	}
	return nil
}

func tlsScheme(s string) bool { return s == "mqtts" || s == "ssl" || s == "tls" }

// brokerURL checks the broker URL, adds the scheme's default port and
// moves credentials out of it (paho would not use them; logs must not show
// them). Options' credentials win over the URL's.
func brokerURL(o Options) (u *url.URL, user, pass string, err error) {
	u, err = url.Parse(o.URL)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, "", "", fmt.Errorf("mqtt: url must be mqtt://host[:port] or mqtts://host[:port]")
	}
	port := "1883"
	switch u.Scheme {
	case "mqtt", "tcp":
	case "mqtts", "ssl", "tls":
		port = "8883"
	default:
		return nil, "", "", fmt.Errorf("mqtt: url scheme %q is not mqtt, mqtts, tcp, ssl or tls", u.Scheme)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	user, pass = o.Username, o.Password
	if u.User != nil && user == "" {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, user, pass, nil
}
