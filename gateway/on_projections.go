package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/argus-vms/argus/projections"
	"github.com/labstack/echo/v4"
)

// Projections is the administration of the ClickHouse projections
// (projections.Service implements it); nil when there is no ClickHouse.
type Projections interface {
	Status(ctx context.Context) ([]projections.ProjectorStatus, error)
	Rebuild(ctx context.Context, name string) error
}

// projectionsStatus is GET /v1/projections (admin):
// {"items":[{"name","tables","lag","last_seq","rebuild"}]}.
//
// In a cluster the projections run on the owner of shard 0: other nodes
// pass both calls on to it.
func (s *Server) projectionsStatus(c echo.Context) error {
	if owner, ok := s.shardOwnerElsewhere(c, 0); ok {
		return s.proxyTo(c, owner)
	}
	if s.projections == nil {
		return unavailable("projections need ClickHouse and this node runs without it (set ARGUS_CLICKHOUSE)")
	}
	ctx, cancel := contextWithTimeout(c, 10*time.Second)
	defer cancel()
	items, err := s.projections.Status(ctx)
	if err != nil {
		return projectionsError(err)
	}
	if items == nil {
		items = []projections.ProjectorStatus{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items})
}

// rebuildProjection is POST /v1/projections/:name/rebuild (admin): 202 once
// the rebuild runs in the background (GET /v1/projections shows progress);
// 404 for an unknown projector, 409 while a rebuild runs. name "all"
// rebuilds every projector and swaps all tables at once.
func (s *Server) rebuildProjection(c echo.Context) error {
	if owner, ok := s.shardOwnerElsewhere(c, 0); ok {
		return s.proxyTo(c, owner)
	}
	if s.projections == nil {
		return unavailable("projections need ClickHouse and this node runs without it (set ARGUS_CLICKHOUSE)")
	}
	name := c.Param("name")
	ctx, cancel := contextWithTimeout(c, 10*time.Second)
	defer cancel()
	if err := s.projections.Rebuild(ctx, name); err != nil {
		return projectionsError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/projections")
	return c.JSON(http.StatusAccepted, map[string]any{"projector": name, "status": "rebuilding"})
}

func projectionsError(err error) error {
	switch {
	case errors.Is(err, projections.ErrUnknownProjector):
		p := problem(http.StatusNotFound, "name", "%s", err.Error())
		return p
	case errors.Is(err, projections.ErrRebuildRunning):
		return problem(http.StatusConflict, "", "a rebuild is already running; GET /v1/projections shows its progress")
	case errors.Is(err, projections.ErrNoClickHouse):
		return unavailable("ClickHouse is not connected yet; projections start once it is reachable")
	}
	return unavailable("projections: %v", err)
}
