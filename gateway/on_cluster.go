package gateway

import (
	"net/http"
	"time"

	"github.com/argus-vms/argus/actors/cluster"
	"github.com/labstack/echo/v4"
)

// Cluster is the node's view of the cluster (*cluster.Manager).
type Cluster interface {
	Status() ([]cluster.NodeStatus, []cluster.ShardStatus)
}

type shardRow struct {
	ID    int     `json:"id"`
	Owner string  `json:"owner"`
	Since *string `json:"since"`
}

// GET /v1/cluster: live nodes and the owner of every shard, as this node
// sees them.
func (s *Server) clusterStatus(c echo.Context) error {
	if s.cluster == nil {
		return unavailable("this node runs without a cluster")
	}
	nodes, shards := s.cluster.Status()
	if nodes == nil {
		nodes = []cluster.NodeStatus{}
	}
	rows := make([]shardRow, len(shards))
	for i, sh := range shards {
		rows[i] = shardRow{ID: sh.ID, Owner: sh.Owner}
		if sh.Since > 0 {
			t := formatTime(time.UnixMilli(sh.Since))
			rows[i].Since = &t
		}
	}
	return writeJSON(c, http.StatusOK, map[string]any{"nodes": nodes, "shards": rows})
}
