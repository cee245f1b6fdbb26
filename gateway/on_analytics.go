package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/projections"
	"github.com/labstack/echo/v4"
)

// requireClickHouse guards every analytics route: while ClickHouse is absent
// or unreachable they answer 503 saying why; commands, reads and the event
// history keep working from NATS.
func (s *Server) requireClickHouse(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.analytics == nil {
			return unavailable("analytics need ClickHouse and this node runs without it (set ARGUS_CLICKHOUSE)")
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
		defer cancel()
		if err := s.analytics.Ping(ctx); err != nil {
			return unavailable("ClickHouse is unreachable; analytics resume when it is back (no event is lost)")
		}
		return next(c)
	}
}

// AnalyticsQueries is what the analytics endpoints ask of Analytics
// (projections.Service implements it); an Analytics without it answers 503.
type AnalyticsQueries interface {
	Uptime(ctx context.Context, from, to time.Time, device string) ([]projections.UptimeItem, error)
	RecordingStats(ctx context.Context, from, to time.Time, groupBy string) ([]projections.RecordingsItem, error)
	EventCounts(ctx context.Context, from, to time.Time, interval time.Duration) ([]projections.EventsItem, error)
	StreamStats(ctx context.Context, from, to time.Time) ([]projections.StreamsItem, error)
	ViewAudit(ctx context.Context, from, to time.Time, device, keyID string, limit int) ([]projections.AuditItem, error)
}

// analyticsQueryTimeout bounds one analytics query.
const analyticsQueryTimeout = 30 * time.Second

func (s *Server) queries() (AnalyticsQueries, *Problem) {
	q, ok := s.analytics.(AnalyticsQueries)
	if !ok {
		return nil, unavailable("analytics queries are not served by this node")
	}
	return q, nil
}

// window parses the required from and to (RFC 3339), to after from.
func window(c echo.Context) (from, to time.Time, p *Problem) {
	for _, f := range []string{"from", "to"} {
		if c.QueryParam(f) == "" {
			return from, to, badRequest(f, "%s is required (RFC 3339)", f)
		}
	}
	if from, p = parseRFC3339(c, "from", time.Time{}); p != nil {
		return from, to, p
	}
	if to, p = parseRFC3339(c, "to", time.Time{}); p != nil {
		return from, to, p
	}
	if !to.After(from) {
		return from, to, badRequest("to", "to must be after from")
	}
	return from, to, nil
}

// queryFailed answers a failed analytics query: ClickHouse is the only
// thing that can fail here.
func (s *Server) queryFailed(c echo.Context, what string, err error) error {
	s.log.Warn("analytics query failed", "request_id", requestID(c), "query", what, "err", err)
	return unavailable("the analytics query did not complete: ClickHouse did not answer")
}

// analyticsQuery answers one analytics endpoint: the node must serve
// queries, the window must parse, then run checks its own parameters
// (a *Problem) and asks ClickHouse (an error → 503).
func (s *Server) analyticsQuery(c echo.Context, name string, run func(ctx context.Context, q AnalyticsQueries, from, to time.Time) (any, *Problem, error)) error {
	q, p := s.queries()
	if p != nil {
		return p
	}
	from, to, p := window(c)
	if p != nil {
		return p
	}
	ctx, cancel := contextWithTimeout(c, analyticsQueryTimeout)
	defer cancel()
	items, p, err := run(ctx, q, from, to)
	if p != nil {
		return p
	}
	if err != nil {
		return s.queryFailed(c, name, err)
	}
	return writeJSON(c, http.StatusOK, map[string]any{"items": items})
}

// GET /v1/analytics/uptime?from=&to=[&device=]: per device online seconds
// and their ratio to the window.
func (s *Server) analyticsUptime(c echo.Context) error {
	return s.analyticsQuery(c, "uptime", func(ctx context.Context, q AnalyticsQueries, from, to time.Time) (any, *Problem, error) {
		dev := c.QueryParam("device")
		if dev != "" {
			if p := checkID(dev); p != nil {
				return nil, badRequest("device", "%s", p.Detail), nil
			}
		}
		items, err := q.Uptime(ctx, from, to, dev)
		return items, nil, err
	})
}

// GET /v1/analytics/recordings?from=&to=&group_by=device|day: recorded hours
// and bytes of the segments starting in the window.
func (s *Server) analyticsRecordings(c echo.Context) error {
	return s.analyticsQuery(c, "recordings", func(ctx context.Context, q AnalyticsQueries, from, to time.Time) (any, *Problem, error) {
		groupBy := c.QueryParam("group_by")
		if groupBy == "" {
			groupBy = "device"
		}
		if groupBy != "device" && groupBy != "day" {
			return nil, badRequest("group_by", "group_by must be device or day"), nil
		}
		items, err := q.RecordingStats(ctx, from, to, groupBy)
		return items, nil, err
	})
}

// GET /v1/analytics/events?from=&to=&interval=1h&group_by=type: event
// counts per time bucket and type.
func (s *Server) analyticsEvents(c echo.Context) error {
	return s.analyticsQuery(c, "events", func(ctx context.Context, q AnalyticsQueries, from, to time.Time) (any, *Problem, error) {
		iv := c.QueryParam("interval")
		if iv == "" {
			iv = "1h"
		}
		interval, ok := projections.EventIntervals[iv]
		if !ok {
			return nil, badRequest("interval", "interval must be one of 1m, 5m, 1h, 1d"), nil
		}
		if g := c.QueryParam("group_by"); g != "" && g != "type" {
			return nil, badRequest("group_by", "group_by must be type"), nil
		}
		if to.Sub(from)/interval > 100000 {
			return nil, badRequest("interval", "too many buckets: use a wider interval or a shorter window"), nil
		}
		rows, err := q.EventCounts(ctx, from, to, interval)
		items := make([]map[string]any, 0, len(rows))
		for _, r := range rows {
			items = append(items, map[string]any{"bucket": formatTime(r.Bucket), "type": r.Type, "count": r.Count})
		}
		return items, nil, err
	})
}

// GET /v1/analytics/streams?from=&to=: viewer-minutes (approximate: session
// time × peak readers) and peak readers per device.
func (s *Server) analyticsStreams(c echo.Context) error {
	return s.analyticsQuery(c, "streams", func(ctx context.Context, q AnalyticsQueries, from, to time.Time) (any, *Problem, error) {
		items, err := q.StreamStats(ctx, from, to)
		return items, nil, err
	})
}

// GET /v1/analytics/audit?from=&to=[&device=][&key=][&limit=]: who
// watched what — the live views and playbacks that started in the window.
func (s *Server) analyticsAudit(c echo.Context) error {
	device, key := c.QueryParam("device"), c.QueryParam("key")
	if device != "" && !events.ValidID(device) {
		return badRequest("device", "device %s", events.IDRule)
	}
	if key != "" && !events.ValidID(key) {
		return badRequest("key", "key must be a key id (%s)", events.IDRule)
	}
	limit := 1000
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return badRequest("limit", "limit must be 1..10000")
		}
		limit = n
	}
	return s.analyticsQuery(c, "audit", func(ctx context.Context, q AnalyticsQueries, from, to time.Time) (any, *Problem, error) {
		items, err := q.ViewAudit(ctx, from, to, device, key, limit)
		return items, nil, err
	})
}
