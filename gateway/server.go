// Package gateway is the HTTP command gateway of Argus (echo v4): it
// authenticates and authorizes API keys, validates requests, routes commands
// to the aggregates' actors through Devices, and answers every error as
// application/problem+json.
package gateway

import (
	"context"
	"crypto/sha256"
	"github.com/argus-vms/argus/actors/audit"
	"github.com/argus-vms/argus/actors/media/snapshot"
	"github.com/argus-vms/argus/actors/media/storage"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/work/upload"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/tus/tusd/v2/pkg/handler"
)

// Config wires the gateway to the rest of the node.
type Config struct {
	Devices    Devices
	Analytics  Analytics   // nil when there is no ClickHouse
	Keys       *KeyStore   // managed API keys; nil = only the admin key works
	AdminKey   string      // the bootstrap admin key; empty disables it
	Node       string      // this node's name, shown by /readyz
	Live       *Live       // live video (nil: not served)
	Plans      Plans       // recording plans (nil: not served)
	Recordings *Recordings // segment index and downloads (nil: not served)
	EventLog   EventLog    // replay and tail of the event log (nil: 503)
	Log        *slog.Logger
	// CommandTimeout bounds one call into Devices (default 10 s); past it
	// the answer is 503 with Retry-After.
	CommandTimeout time.Duration

	Projections Projections // projection status and rebuild (nil: 503)
	Cluster     Cluster     // membership and shard owners (nil: a single node)
	// Idempotency holds Idempotency-Key records (nil: a command carrying
	// the header is answered 503).
	Idempotency *IdempotencyStore
	// Views receives the media views this node serves over HTTP, for the
	// viewing audit (nil: none recorded).
	Views *audit.Sessions
	// Cameras gives the node hosting a device its camera's address and
	// credentials, for ONVIF control (nil: PTZ is not served).
	Cameras Cameras
	// PTZSessionIdle ends an operator's session of PTZ moves, recorded as
	// one event (default 30 s).
	PTZSessionIdle time.Duration
	// Alarms raises, acknowledges, clears and lists alarms (nil: 503).
	Alarms Alarms
	// Pictures is where alarms' pictures are stored (the recording storage).
	Pictures storage.Storage
	// Webhooks manages outbound webhooks (nil: 503).
	Webhooks Webhooks
	// Tasks submits, lists and cancels media tasks (nil: 503); their
	// results are read from Pictures (the recording storage).
	Tasks Tasks
	// Uploads takes resumable VOD uploads (nil: not served).
	Uploads *Uploads
}

// Server is the HTTP API of one node.
type Server struct {
	e          *echo.Echo
	devices    Devices
	analytics  Analytics
	keys       *KeyStore
	adminHash  []byte
	node       string
	live       *Live
	plans      Plans
	recordings *Recordings
	eventLog   EventLog
	log        *slog.Logger
	timeout    time.Duration

	projections  Projections
	cluster      Cluster
	idem         *IdempotencyStore
	views        *audit.Sessions
	cameras      Cameras
	ptz          *ptzSessions
	onvifClients onvifClients
	snapshots    *snapshot.Grabber
	alarms       Alarms
	webhooks     Webhooks
	tasks        Tasks
	uploads      *upload.Store
	tus          *handler.Handler
	uploadMax    int64
	pictures     storage.Storage
	authFails    *failedAuths // failed authentications per client (limits.go)
}

var (
	httpRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "argus_http_requests_total",
		Help: "HTTP requests answered, by method, route template and status code.",
	}, []string{"method", "route", "code"})
	httpSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "argus_http_request_seconds",
		Help:    "HTTP request latency by route template.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
)

// New builds the gateway.
func New(cfg Config) *Server {
	s := &Server{
		devices:    cfg.Devices,
		analytics:  cfg.Analytics,
		keys:       cfg.Keys,
		node:       cfg.Node,
		live:       cfg.Live,
		plans:      cfg.Plans,
		recordings: cfg.Recordings,
		eventLog:   cfg.EventLog,
		log:        cfg.Log,
		timeout:    cfg.CommandTimeout,
	}
	s.projections = cfg.Projections
	s.cluster = cfg.Cluster
	s.idem = cfg.Idempotency
	s.views = cfg.Views
	s.cameras = cfg.Cameras
	s.alarms, s.pictures, s.webhooks, s.tasks = cfg.Alarms, cfg.Pictures, cfg.Webhooks, cfg.Tasks
	if u := cfg.Uploads; u != nil && u.Store != nil {
		if u.MaxSize <= 0 {
			u.MaxSize = DefaultUploadMaxSize
		}
		tus, err := s.newTus(u)
		if err != nil {
			panic(err) // a static configuration: a test catches it
		}
		s.uploads, s.tus, s.uploadMax = u.Store, tus, u.MaxSize
	}
	s.ptz = newPTZSessions(s, cfg.PTZSessionIdle)
	s.snapshots = snapshot.New(snapshot.Options{})
	s.authFails = newFailedAuths()
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if cfg.AdminKey != "" {
		h := sha256.Sum256([]byte(cfg.AdminKey))
		s.adminHash = h[:]
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	// The client is the peer address: X-Forwarded-For and X-Real-IP are
	// anyone's to write, and would let a key guesser dodge its limit or
	// forge the viewing audit.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(
		s.observe, // request id, access log, metrics; outermost so it sees the final status
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				s.log.Error("panic recovered", "request_id", requestID(c), "method", c.Request().Method,
					"route", routeOf(c), "err", err, "stack", string(stack))
				return problem(http.StatusInternalServerError, "", "internal error")
			},
		}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: bodyLimitSpec,
			Skipper: func(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, uploadsPrefix) }}), // tus bounds its own
		s.writeDeadlines,
		s.limitFailedAuth,
	)
	s.e = e
	s.routes()
	return s
}

// Handler is the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return s.e }

func (s *Server) routes() {
	e := s.e
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics)

	viewer, operator, admin := s.require(RoleViewer), s.require(RoleOperator), s.require(RoleAdmin)
	viewer, operator, admin = s.withIdempotency(viewer), s.withIdempotency(operator), s.withIdempotency(admin)

	e.POST("/v1/devices", s.createDevice, operator)
	e.GET("/v1/devices", s.listDevices, viewer)
	e.GET("/v1/devices/:id", s.getDevice, viewer)
	e.PATCH("/v1/devices/:id", s.patchDevice, operator)
	e.DELETE("/v1/devices/:id", s.deleteDevice, operator)
	e.GET("/v1/devices/:id/events", s.deviceEvents, viewer)

	e.POST("/v1/keys", s.createKey, admin)
	e.GET("/v1/keys", s.listKeys, admin)
	e.DELETE("/v1/keys/:id", s.deleteKey, admin)
	e.GET("/v1/whoami", s.whoami, viewer)
	e.POST("/v1/discovery", s.discover, operator)
	e.POST("/v1/devices/:id/onvif/refresh", s.refreshOnvif, operator)

	e.GET("/v1/devices/:id/channels/:ch/live", s.liveURLs, viewer)
	e.GET("/v1/devices/:id/channels/:ch/playback", s.playbackURLs, viewer)
	e.GET("/v1/streams", s.listStreams, viewer)
	e.PUT("/v1/devices/:id/channels/:ch/plan", s.putPlan, operator)
	e.GET("/v1/devices/:id/channels/:ch/plan", s.getPlan, viewer)
	e.PUT("/v1/devices/:id/channels/:ch/motion", s.putMotion, operator)
	e.GET("/v1/devices/:id/channels/:ch/motion", s.getMotion, viewer)
	e.POST("/v1/devices/:id/channels/:ch/ptz", s.ptzCommand, operator)
	e.GET("/v1/devices/:id/channels/:ch/ptz", s.ptzStatus, viewer)
	e.GET("/v1/devices/:id/channels/:ch/snapshot.jpg", s.snapshotJPEG, s.liveTokenOrKey(), s.audited("snapshot", nil))
	e.GET("/v1/devices/:id/channels/:ch/ptz/presets", s.ptzPresets, viewer)
	e.PUT("/v1/devices/:id/channels/:ch/ptz/presets/:name", s.ptzSetPreset, operator)
	e.DELETE("/v1/devices/:id/channels/:ch/ptz/presets/:name", s.ptzRemovePreset, operator)
	e.GET("/v1/recordings", s.listRecordings, viewer)
	e.GET("/v1/devices/:id/channels/:ch/recordings/:start", s.downloadSegment, s.tokenOrKey(segmentInstant), s.audited("segment", segmentInstant))
	e.GET("/v1/devices/:id/channels/:ch/playback.mp4", s.playbackMP4, s.tokenOrKey(playbackRange), s.audited("mp4", playbackRange))
	e.GET("/v1/devices/:id/channels/:ch/playback.m3u8", s.playbackM3U8, s.tokenOrKey(playbackRange), s.audited("hls", playbackRange))
	e.GET("/hls/:id/:ch/*", s.serveHLS, s.audited("hls", nil)) // the stream token authorizes
	e.POST("/whep/:id/:ch", s.whepOffer)                       // the stream token authorizes; the node audits the session
	e.OPTIONS("/whep/:id/:ch", s.whepOptions)
	e.PATCH("/whep/:id/:ch/:session", s.whepPatch) // the session id authorizes
	e.DELETE("/whep/:id/:ch/:session", s.whepDelete)
	e.OPTIONS("/whep/:id/:ch/:session", s.whepOptions)

	e.GET("/v1/analytics/uptime", s.analyticsUptime, viewer, s.requireClickHouse)
	e.GET("/v1/analytics/recordings", s.analyticsRecordings, viewer, s.requireClickHouse)
	e.GET("/v1/analytics/events", s.analyticsEvents, viewer, s.requireClickHouse)
	e.GET("/v1/analytics/streams", s.analyticsStreams, viewer, s.requireClickHouse)
	e.GET("/v1/analytics/audit", s.analyticsAudit, admin, s.requireClickHouse) // who watched what: admin only
	e.GET("/v1/analytics/alarms", s.analyticsAlarms, viewer, s.requireClickHouse)

	e.POST("/v1/alarms", s.raiseAlarm, operator)
	e.GET("/v1/alarms", s.listAlarms, viewer)
	e.GET("/v1/alarms/:id", s.getAlarm, viewer)
	e.POST("/v1/alarms/:id/ack", s.ackAlarm, operator)
	e.POST("/v1/alarms/:id/clear", s.clearAlarm, operator)
	e.GET("/v1/alarms/:id/snapshot.jpg", s.alarmSnapshot, viewer)

	e.POST("/v1/webhooks", s.createWebhook, admin)
	e.GET("/v1/webhooks", s.listWebhooks, admin)
	e.GET("/v1/webhooks/:id", s.getWebhook, admin)
	e.PATCH("/v1/webhooks/:id", s.patchWebhook, admin)
	e.DELETE("/v1/webhooks/:id", s.deleteWebhook, admin)
	e.GET("/v1/webhooks/:id/deliveries", s.webhookDeliveries, admin)
	e.POST("/v1/webhooks/:id/replay", s.replayWebhook, admin)

	e.POST("/v1/tasks", s.submitTask, operator)
	e.GET("/v1/tasks", s.listTasks, viewer)
	e.GET("/v1/tasks/:id", s.getTask, viewer)
	e.POST("/v1/tasks/:id/cancel", s.cancelTask, operator)
	e.GET("/v1/tasks/:id/result", s.taskResult, viewer)
	e.GET("/v1/tasks/:id/files/*", s.taskFile, viewer)
	e.GET("/v1/workers", s.listWorkers, viewer)
	uploader := s.require(RoleOperator)              // no idempotency records: a PATCH is idempotent by its offset
	e.POST("/v1/uploads/", s.serveUploads, uploader) // tus: Location /v1/uploads/{id}
	e.HEAD("/v1/uploads/:id", s.serveUploads, uploader)
	e.PATCH("/v1/uploads/:id", s.serveUploads, uploader)
	e.DELETE("/v1/uploads/:id", s.serveUploads, uploader)
	e.GET("/v1/vod", s.listVOD, viewer)
	e.GET("/v1/vod/:id", s.getVOD, viewer)
	e.GET("/vod/:id/*", s.serveVOD) // the result token authorizes

	e.GET("/v1/events", s.replayEvents, viewer)
	e.GET("/v1/events/stream", s.streamEvents, viewer)
	e.GET("/v1/cluster", s.clusterStatus, viewer)
	e.GET("/v1/projections", s.projectionsStatus, admin)
	e.POST("/v1/projections/:name/rebuild", s.rebuildProjection, admin)

	s.debugRoutes(admin)
	s.openAPIRoutes(e) // openapi.go
	s.consoleRoutes(e) // console.go
}

const requestIDKey = "argus.request_id"

// requestID is the request's id (set by observe).
func requestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// sanitizeRequestID keeps an incoming X-Request-Id only if it is 1..128
// characters of [A-Za-z0-9._-]; otherwise it returns "".
func sanitizeRequestID(id string) string {
	if len(id) == 0 || len(id) > 128 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return ""
		}
	}
	return id
}

// routeOf is the route template (bounded cardinality for metrics).
func routeOf(c echo.Context) string {
	r := c.Path()
	if r == "" || r == "/*" {
		return "unmatched"
	}
	return r
}

// observe assigns the request id, lets the central error handler answer any
// error (so the final status is known), then records metrics and one access
// log line. It never logs bodies or the Authorization header.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := sanitizeRequestID(req.Header.Get(echo.HeaderXRequestID))
		if id == "" {
			id = uuid.NewString()
		}
		c.Set(requestIDKey, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)

		if err := next(c); err != nil {
			c.Error(err)
		}

		res := c.Response()
		status := res.Status
		route := routeOf(c)
		elapsed := time.Since(start)
		httpRequests.WithLabelValues(req.Method, route, strconv.Itoa(status)).Inc()
		httpSeconds.WithLabelValues(route).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		switch {
		case route == "/healthz" || route == "/readyz" || route == "/metrics":
			level = slog.LevelDebug // probes and scrapes would drown the log
		case status >= 500:
			level = slog.LevelWarn
		}
		if !s.log.Enabled(req.Context(), level) {
			return nil
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", req.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", res.Size),
			slog.Float64("ms", float64(elapsed.Microseconds())/1000),
			slog.String("remote", req.RemoteAddr),
		}
		if p, ok := principalOf(c); ok {
			attrs = append(attrs, slog.String("key_id", p.KeyID))
		}
		s.log.LogAttrs(req.Context(), level, "http", attrs...)
		return nil
	}
}

// contextWithTimeout bounds a call made on behalf of the request.
func contextWithTimeout(c echo.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), d)
}
