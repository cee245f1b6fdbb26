package onvif

import "errors"

var (
	// ErrUnauthorized is a camera's refusal of our credentials: HTTP 401 or
	// 403 (after a Digest retry when offered), or a NotAuthorized fault.
	ErrUnauthorized = errors.New("onvif: unauthorized")
	// ErrNotONVIF is an answer that is not a SOAP envelope: a web page, an
	// empty body, another protocol.
	ErrNotONVIF = errors.New("onvif: not an ONVIF answer")
)
