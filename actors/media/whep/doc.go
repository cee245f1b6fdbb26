// Package whep is the WebRTC egress of live camera streams: the media side of
// WHEP (WebRTC-HTTP Egress Protocol). The HTTP routing, authentication and
// tokens live in gateway/; this package turns an SDP offer into a
// non-trickle answer (ICE gathering completes before the answer is
// returned), and once the peer is connected sends the relay's H.264 access
// units — the cached GOP first, so the first decoded picture is an IDR —
// and, when the offer accepts it, Opus or G.711 audio.
//
// All ICE traffic shares one UDP port (and optionally one TCP port for
// ICE-TCP), which is what a firewall or a container port mapping wants.
//
// whepclient is the matching headless reader for tests and benchmarks.
package whep
