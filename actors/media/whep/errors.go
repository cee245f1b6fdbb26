package whep

import "errors"

// Errors for the HTTP layer to map to status codes.
var (
	// ErrBadOffer: the body is not a usable SDP offer (400).
	ErrBadOffer = errors.New("whep: bad SDP offer")
	// ErrNoCodec: the offer does not receive H.264 (packetization-mode=1),
	// the only video this server sends (400, or 415/406 at the caller's
	// choice).
	ErrNoCodec = errors.New("whep: offer accepts no H.264 video the server can send")
	// ErrBadRequest: a malformed trickle-ice-sdpfrag PATCH body (400).
	ErrBadRequest = errors.New("whep: bad request")
	// ErrICERestart: the PATCH carries new ICE credentials (an ICE restart,
	// RFC 9725 section 4.3.2), which this server does not do; the client
	// starts a new session instead (405 or 422 are sensible).
	ErrICERestart = errors.New("whep: ICE restart not supported")
	// ErrClosed: the server or the session is closed (404 for a session,
	// 503 for the server).
	ErrClosed = errors.New("whep: closed")
)
