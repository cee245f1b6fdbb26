package whepclient

import (
	"net/http"

	"github.com/pion/webrtc/v4"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	http     *http.Client
	header   http.Header
	ice      []string
	loopback bool
	trickle  bool
	onFrame  func(au [][]byte, rtpTimestamp uint32)
	settings []func(*webrtc.SettingEngine)
}

func defaults() options {
	return options{
		http:   http.DefaultClient,
		header: http.Header{},
		// A test or benchmark client usually talks to a server on the
		// same machine, whose only candidate may be a loopback one.
		loopback: true,
	}
}

// WithHTTPClient sets the HTTP client for POST, PATCH and DELETE (default
// http.DefaultClient).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.http = c } }

// WithHeader adds a header to every request, e.g. Authorization.
func WithHeader(key, value string) Option { return func(o *options) { o.header.Add(key, value) } }

// WithICEServers sets STUN/TURN URLs (default none).
func WithICEServers(urls ...string) Option { return func(o *options) { o.ice = urls } }

// WithLoopback includes or excludes loopback candidates (default
// included).
func WithLoopback(include bool) Option { return func(o *options) { o.loopback = include } }

// WithTrickle posts the offer at once and sends the candidates as they are
// gathered, in PATCH requests (application/trickle-ice-sdpfrag, RFC 8840),
// instead of waiting for ICE gathering to complete.
func WithTrickle() Option { return func(o *options) { o.trickle = true } }

// WithFrameHandler calls fn with every complete H.264 access unit (NALUs
// without start codes) and its RTP timestamp, on the track's reading
// goroutine: it must be quick.
func WithFrameHandler(fn func(au [][]byte, rtpTimestamp uint32)) Option {
	return func(o *options) { o.onFrame = fn }
}

// WithSettingEngine adjusts the pion SettingEngine after the client's own
// settings, e.g. to restrict the network types to ICE-TCP.
func WithSettingEngine(fn func(*webrtc.SettingEngine)) Option {
	return func(o *options) { o.settings = append(o.settings, fn) }
}
