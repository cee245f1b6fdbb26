package gateway

import (
	"context"
	"net/http"
	"time"

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

// noAnalytics answers analytics queries not built yet (the analytics issue).
func (s *Server) noAnalytics(c echo.Context) error {
	return problem(http.StatusNotFound, "", "unknown analytics query %s", c.Request().URL.Path)
}
