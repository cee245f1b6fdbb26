package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// GET /healthz: the process answers.
func (s *Server) healthz(c echo.Context) error {
	return writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

// clickhouseState is "absent" without analytics, else "up" or "down".
func (s *Server) clickhouseState(ctx context.Context) string {
	if s.analytics == nil {
		return "absent"
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.analytics.Ping(ctx); err != nil {
		return "down"
	}
	return "up"
}

// GET /readyz: 200 when every shard is activated, else 503. ClickHouse is
// reported but does not decide readiness: commands work without it.
func (s *Server) readyz(c echo.Context) error {
	ch := s.clickhouseState(c.Request().Context())
	if s.devices == nil || !s.devices.Ready() {
		p := unavailable("shards are not all activated yet")
		p.Extensions = map[string]any{"ready": false, "node": s.node, "clickhouse": ch}
		return p
	}
	return writeJSON(c, http.StatusOK, map[string]any{"status": "ready", "ready": true, "node": s.node, "clickhouse": ch})
}

var promHandler = promhttp.Handler()

// GET /metrics: Prometheus text from the default registry.
func (s *Server) metrics(c echo.Context) error {
	promHandler.ServeHTTP(c.Response(), c.Request())
	return nil
}
