package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/pb"
	"github.com/labstack/echo/v4"
)

// Live is the media side of a node, as the gateway needs it.
type Live struct {
	Signer    *token.Signer
	Advertise string // host (or host:port) clients reach this node at
	RTSPPort  int    // the node's RTSP relay port
	RTSPSPort int    // the node's RTSPS port (0: none)
	// PublicHTTP and PublicRTSP are the bases of the URLs handed to clients
	// (--public-url, --public-rtsp), for a node behind NAT or a proxy;
	// empty: built from Advertise and the ports.
	PublicHTTP, PublicRTSP string
	HTTPPort               int // the node's HTTP port as clients reach it
	// HTTPScheme is "https" when the API is served over TLS ("" = http).
	HTTPScheme string
	// HLS returns the HLS handler of a device channel, starting the stream
	// on demand; the handler serves paths relative to /hls/<device>/<ch>/.
	HLS func(ctx context.Context, device string, channel int, codec string) (http.Handler, error)
	// Keyframe is the latest keyframe of a device channel (Annex-B H.264
	// with its parameter sets), starting the stream on demand and waiting
	// for one; for snapshots.
	Keyframe func(ctx context.Context, device string, channel int) ([]byte, error)
	// WHEP starts a WebRTC session reading a device channel (the stream
	// starts on demand) and returns its id and SDP answer; WHEPSession
	// finds a session it started. nil: no WebRTC on this node.
	WHEP        func(ctx context.Context, r WHEPRequest) (id, answer string, err error)
	WHEPSession func(id string) (WHEPSession, bool)
	// WHEPOrigins are the browser origins allowed to call WHEP (CORS);
	// empty: any (the live token authorizes, not the origin).
	WHEPOrigins []string
	// PeerOrigins are the client-facing HTTP origins of the cluster's other
	// nodes (the console's policy lets live video reach them).
	PeerOrigins func() []string
	// Streams lists the node's active streams.
	Streams func(ctx context.Context) ([]StreamInfo, error)
	// Owner names the node that hosts a device's media; local = this node.
	// Live URLs then point at the owner and media requests are redirected
	// there. nil: everything is local.
	Owner func(device string) (o OwnerInfo, local bool)
	// Nodes are the cluster's live nodes with their loads (the live API's
	// choice of node for a viewer, ?node=); nil: this node alone. The
	// nodes serve streams they do not own as edges (?edge=1).
	Nodes func() []NodeLoad
	// TokenTTL is the default lifetime of a live or playback token, and
	// MaxTokenTTL the longest a caller may ask for (zero: 5 min and 24 h).
	TokenTTL, MaxTokenTTL time.Duration
}

// tokenTTLs are the default and longest token lifetimes in force.
func (l *Live) tokenTTLs() (def, max time.Duration) {
	def, max = l.TokenTTL, l.MaxTokenTTL
	if def <= 0 {
		def = 5 * time.Minute
	}
	if max <= 0 {
		max = 24 * time.Hour
	}
	return min(def, max), max
}

// tokenTTL reads ?ttl= (seconds) within the limits in force.
func (s *Server) tokenTTL(c echo.Context) (time.Duration, *Problem) {
	def, max := s.live.tokenTTLs()
	v := c.QueryParam("ttl")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || time.Duration(n)*time.Second > max {
		return 0, badRequest("ttl", "ttl must be seconds between 1 and %d", int(max/time.Second))
	}
	return time.Duration(n) * time.Second, nil
}

// OwnerInfo is where clients reach the node that owns a device.
type OwnerInfo struct {
	Node      string
	HTTPBase  string // like http://10.0.0.2:8080
	RTSPBase  string // like rtsp://10.0.0.2:8554
	RTSPSBase string // like rtsps://10.0.0.2:8322; "" when it serves no RTSPS
	// PublicHTTP and PublicRTSP are what clients are sent to ("": the
	// bases above).
	PublicHTTP, PublicRTSP string
}

// clientHTTP and clientRTSP are the owner's bases for URLs handed to
// clients.
func (o OwnerInfo) clientHTTP() string {
	return strings.TrimSuffix(cmp.Or(o.PublicHTTP, o.HTTPBase), "/")
}
func (o OwnerInfo) clientRTSP() string {
	return strings.TrimSuffix(cmp.Or(o.PublicRTSP, o.RTSPBase), "/")
}

// RTSPSBase is the node's RTSPS base URL at host, "" without RTSPS.
func (l *Live) RTSPSBase(host string) string {
	if l.RTSPSPort == 0 {
		return ""
	}
	return fmt.Sprintf("rtsps://%s:%d", host, l.RTSPSPort)
}

// remoteOwner is the device's owner when another node hosts it.
func (s *Server) remoteOwner(device string) (OwnerInfo, bool) {
	if s.live == nil || s.live.Owner == nil {
		return OwnerInfo{}, false
	}
	o, local := s.live.Owner(device)
	return o, !local
}

// redirectToOwner answers 307 to the same request URI on the owner, so the
// owner authorizes it. Go's http client drops Authorization when a redirect
// changes host (curl -L keeps it only with --location-trusted); stream
// tokens in the query survive.
func redirectToOwner(c echo.Context, o OwnerInfo) error {
	if o.HTTPBase == "" {
		return unavailable("the node hosting this device is unknown; retry")
	}
	// URL.RequestURI, not RequestURI: an absolute-form request line must
	// not end up after the base.
	return c.Redirect(http.StatusTemporaryRedirect, o.clientHTTP()+c.Request().URL.RequestURI())
}

// StreamInfo is one row of GET /v1/streams.
type StreamInfo struct {
	Device  string `json:"device"`
	Channel int    `json:"channel"`
	// Kind: camera (the owner's pull), edge (a relay of another node's),
	// rendition (a transcode, Codec).
	Kind        string    `json:"kind"`
	Codec       string    `json:"codec,omitempty"`
	Node        string    `json:"node"`
	State       string    `json:"state"`
	Readers     int       `json:"readers"`
	BitrateKbps float64   `json:"bitrate_kbps"`
	Since       time.Time `json:"since"`
}

// channelParam reads {ch}: 1..64.
func channelParam(c echo.Context) (int, *Problem) {
	ch, err := strconv.Atoi(c.Param("ch"))
	if err != nil || ch < 1 || ch > events.MaxChannels {
		return 0, badRequest("channel", "channel must be an integer 1..%d", events.MaxChannels)
	}
	return ch, nil
}

// channelPath reads and validates {id} and {ch} of a device channel route.
func channelPath(c echo.Context) (string, int, *Problem) {
	id, p := pathID(c)
	if p != nil {
		return "", 0, p
	}
	ch, p := channelParam(c)
	return id, ch, p
}

// GET /v1/devices/{id}/channels/{ch}/live[?ttl=300]: signed, expiring URLs
// on the node that hosts the stream.
func (s *Server) liveURLs(c echo.Context) error {
	if s.live == nil || s.live.Signer == nil {
		return unavailable("live video is not configured on this node")
	}
	id, ch, p := channelPath(c)
	if p != nil {
		return p
	}
	ttl, p := s.tokenTTL(c)
	if p != nil {
		return p
	}
	codec := c.QueryParam("codec")
	if codec != "" && codec != "h264" {
		return badRequest("codec", "codec must be h264 (a transcode for players without the camera's codec) or absent")
	}
	r, err := s.ask(c, id, &pb.GetDevice{Id: id})
	if err != nil {
		return err
	}
	if r.GetCode() != pb.ReplyCode_REPLY_CODE_OK || r.GetDevice().GetRemoved() {
		return problem(http.StatusNotFound, "", "no such device")
	}
	if ch > int(r.GetDevice().GetChannels()) {
		return problem(http.StatusNotFound, "channel", "device %s has %d channel(s)", id, r.GetDevice().GetChannels())
	}
	expires := time.Now().Add(ttl).Truncate(time.Second)
	tok := url.QueryEscape(s.live.Signer.Sign(token.Claims{Kind: token.Live, Device: id, Channel: ch, Expires: expires, KeyID: callerID(c)}))
	target, edge, p := s.viewerNode(c, id)
	if p != nil {
		return p
	}
	var rtspBase, rtspsBase, httpBase, node string
	if codec != "" {
		tok += "&codec=" + codec
	}
	if edge {
		rtspBase, rtspsBase, httpBase, node = s.nodeBases(target)
		tok += "&" + edgeQuery + "=1"
	} else if rtspBase, rtspsBase, httpBase, node, p = s.mediaBases(id); p != nil {
		return p
	}
	out := map[string]any{
		"rtsp_url":   fmt.Sprintf("%s/live/%s/%d?token=%s", rtspBase, id, ch, tok),
		"hls_url":    fmt.Sprintf("%s/hls/%s/%d/index.m3u8?token=%s", httpBase, id, ch, tok),
		"ll_hls_url": fmt.Sprintf("%s/hls/%s/%d/ll/index.m3u8?token=%s", httpBase, id, ch, tok),
		"expires_at": formatTime(expires),
		"node":       node,
		"edge":       edge,
	}
	if s.live.WHEP != nil {
		out["webrtc_url"] = fmt.Sprintf("%s/whep/%s/%d?token=%s", httpBase, id, ch, tok)
	}
	if rtspsBase != "" {
		out["rtsps_url"] = fmt.Sprintf("%s/live/%s/%d?token=%s", rtspsBase, id, ch, tok)
	}
	return writeJSON(c, http.StatusOK, out)
}

// mediaBases are the URL bases of the node serving a device's media: this
// node, or its owner.
func (s *Server) mediaBases(id string) (rtspBase, rtspsBase, httpBase, node string, p *Problem) {
	rtspBase, rtspsBase, httpBase = s.selfBases()
	node = s.node
	if o, remote := s.remoteOwner(id); remote {
		if o.RTSPBase == "" || o.HTTPBase == "" {
			return "", "", "", "", unavailable("the node hosting this device is unknown; retry")
		}
		rtspBase, httpBase, node = o.clientRTSP(), o.clientHTTP(), o.Node
		rtspsBase = strings.TrimSuffix(o.RTSPSBase, "/")
	}
	return rtspBase, rtspsBase, httpBase, node, nil
}

// selfBases are this node's client-facing URL bases.
func (s *Server) selfBases() (rtspBase, rtspsBase, httpBase string) {
	host := s.live.Advertise
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	scheme := cmp.Or(s.live.HTTPScheme, "http")
	rtspBase, rtspsBase = fmt.Sprintf("rtsp://%s:%d", host, s.live.RTSPPort), s.live.RTSPSBase(host)
	httpBase = fmt.Sprintf("%s://%s:%d", scheme, host, s.live.HTTPPort)
	rtspBase = strings.TrimSuffix(cmp.Or(s.live.PublicRTSP, rtspBase), "/")
	httpBase = strings.TrimSuffix(cmp.Or(s.live.PublicHTTP, httpBase), "/")
	return rtspBase, rtspsBase, httpBase
}

// LiveRTSP is a live RTSP URL of a device channel with a token valid for
// ttl, for a worker slot taking a live snapshot or transcoding (the key it
// names is the task's submitter's).
func (s *Server) LiveRTSP(device string, channel int, keyID string, ttl time.Duration) (string, error) {
	return s.ownerRTSP(token.Claims{Kind: token.Live, Device: device, Channel: channel, KeyID: keyID}, ttl, "")
}

// PublishRTSP is the URL a live transcode publishes device channel's
// rendition codec at: the owner's relay, with a publish token valid for
// ttl.
func (s *Server) PublishRTSP(device string, channel int, codec, keyID string, ttl time.Duration) (string, error) {
	return s.ownerRTSP(token.Claims{Kind: token.Publish, Device: device, Channel: channel, KeyID: keyID}, ttl,
		"codec="+url.QueryEscape(codec)+"&")
}

// ownerRTSP is the RTSP URL of c's channel on its owner with a token of c
// valid for ttl (query: parameters before the token, each ending in &).
func (s *Server) ownerRTSP(c token.Claims, ttl time.Duration, query string) (string, error) {
	if s.live == nil || s.live.Signer == nil {
		return "", errors.New("live video is not configured on this node")
	}
	c.Expires = time.Now().Add(ttl).Truncate(time.Second)
	tok := url.QueryEscape(s.live.Signer.Sign(c))
	rtspBase, _, _, _, p := s.mediaBases(c.Device)
	if p != nil {
		return "", errors.New(p.Detail)
	}
	return fmt.Sprintf("%s/live/%s/%d?%stoken=%s", rtspBase, c.Device, c.Channel, query, tok), nil
}

// GET /v1/streams: the active streams of every node (each node's own with
// ?scope=node). Nodes that did not answer are named in "incomplete".
func (s *Server) listStreams(c echo.Context) error {
	items := []StreamInfo{}
	if s.live != nil && s.live.Streams != nil {
		got, err := s.live.Streams(c.Request().Context())
		if err != nil && len(got) == 0 {
			return unavailable("streams did not answer; retry")
		}
		items = append(items, got...)
	}
	switch scope := c.QueryParam("scope"); scope {
	case "node":
		return writeJSON(c, http.StatusOK, map[string]any{"items": items})
	case "", "cluster":
	default:
		return badRequest("scope", "scope is node or cluster, not %q", scope)
	}
	type page struct {
		Items []StreamInfo `json:"items"`
	}
	pages, missing := fetchFromPeers[page](s, c, "/v1/streams?scope=node")
	for _, p := range pages {
		items = append(items, p.Items...)
	}
	slices.SortFunc(items, func(a, b StreamInfo) int {
		return cmp.Or(strings.Compare(a.Device, b.Device), a.Channel-b.Channel)
	})
	body := map[string]any{"items": items}
	if len(missing) > 0 {
		body["incomplete"] = missing
	}
	return writeJSON(c, http.StatusOK, body)
}

// GET /hls/{id}/{ch}/*?token=…: HLS for players, authorized by the stream
// token alone (players send no headers). No valid token → 403, and no pull
// is started. A device hosted elsewhere → 307 to its owner, which checks
// the token itself.
func (s *Server) serveHLS(c echo.Context) error {
	if s.live == nil {
		return problem(http.StatusNotFound, "", "HLS is not served by this node")
	}
	if s.live.HLS == nil {
		return problem(http.StatusNotFound, "", "HLS is not served by this node")
	}
	id, ch, _, err := s.liveMedia(c)
	if id == "" {
		return err
	}
	h, err := s.live.HLS(c.Request().Context(), id, ch, c.QueryParam("codec"))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return unavailable("the stream did not start in time; retry")
		}
		return problem(http.StatusNotFound, "", "no such stream: %v", err)
	}
	prefix := fmt.Sprintf("/hls/%s/%d", id, ch)
	http.StripPrefix(prefix, h).ServeHTTP(c.Response(), c.Request())
	return nil
}

// liveMedia authorizes a player's request for a channel's live media
// (HLS, WHEP) by its stream token alone (players send no headers): a
// device hosted elsewhere → 307 to its owner, which checks the token
// itself; no valid token → 403, and no pull is started. id is "" when the
// request is answered already (err is then the answer).
func (s *Server) liveMedia(c echo.Context) (id string, ch int, claims token.Claims, err error) {
	id = c.Param("id")
	if !events.ValidID(id) {
		return "", 0, claims, problem(http.StatusNotFound, "id", "no such stream")
	}
	ch, p := channelParam(c)
	if p != nil {
		return "", 0, claims, problem(http.StatusNotFound, "ch", "no such stream")
	}
	if o, remote := s.remoteOwner(id); remote && !(s.live.Nodes != nil && c.QueryParam(edgeQuery) == "1") {
		return "", 0, claims, redirectToOwner(c, o)
	}
	claims, err = s.live.Signer.CheckLive(c.QueryParam("token"), id, ch, time.Now())
	if err != nil {
		return "", 0, claims, problem(http.StatusForbidden, "token", "stream token refused: %s", strings.TrimPrefix(err.Error(), "token: "))
	}
	c.Set(claimsKey, claims)
	return id, ch, claims, nil
}
