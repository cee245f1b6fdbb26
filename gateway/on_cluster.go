package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
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

// proxiedKey marks a request this node passed to another (proxyTo).
const proxiedKey = "argus.proxied"

// forwardedHeader marks a request one node passed to another: it is
// answered where it lands, so two nodes with different views of the cluster
// cannot pass it back and forth.
const forwardedHeader = "X-Argus-Forwarded-By"

// peerNodes are the other live nodes, as this node sees them.
func (s *Server) peerNodes() []cluster.NodeStatus {
	if s.cluster == nil {
		return nil
	}
	nodes, _ := s.cluster.Status()
	var out []cluster.NodeStatus
	for _, n := range nodes {
		if n.ID != s.node && n.HTTP != "" {
			out = append(out, n)
		}
	}
	return out
}

// shardOwnerElsewhere is the node owning shard n when that is another node.
func (s *Server) shardOwnerElsewhere(c echo.Context, n int) (cluster.NodeStatus, bool) {
	if s.cluster == nil || c.Request().Header.Get(forwardedHeader) != "" {
		return cluster.NodeStatus{}, false
	}
	nodes, shards := s.cluster.Status()
	if n >= len(shards) || shards[n].Owner == "" || shards[n].Owner == s.node {
		return cluster.NodeStatus{}, false
	}
	for _, node := range nodes {
		if node.ID == shards[n].Owner && node.HTTP != "" {
			return node, true
		}
	}
	return cluster.NodeStatus{}, false
}

// proxyTo answers c with the same request made to another node (the
// caller's credentials go along).
func (s *Server) proxyTo(c echo.Context, node cluster.NodeStatus) error {
	target, err := url.Parse(node.HTTP)
	if err != nil {
		return unavailable("node %s has no usable address", node.ID)
	}
	p := httputil.NewSingleHostReverseProxy(target)
	p.ErrorHandler = func(_ http.ResponseWriter, _ *http.Request, err error) {
		s.log.Warn("forwarding to another node failed", "node", node.ID, "err", err)
		writeProblem(c, unavailable("node %s did not answer; retry", node.ID))
	}
	c.Set(proxiedKey, true) // the node answering it records what it served
	req := c.Request().Clone(c.Request().Context())
	req.Header.Set(forwardedHeader, s.node)
	p.ServeHTTP(c.Response(), req)
	return nil
}

// peerClient calls other nodes' APIs (one pool of connections for all).
var peerClient = &http.Client{Timeout: 5 * time.Second}

// fetchFromPeers GETs path (with the caller's credentials) from every other
// live node and decodes each answer into a fresh T; nodes that did not
// answer are listed by id.
func fetchFromPeers[T any](s *Server, c echo.Context, path string) (got []T, missing []string) {
	peers := s.peerNodes()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, peer := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v T
			err := func() error {
				req, err := http.NewRequestWithContext(c.Request().Context(), http.MethodGet, strings.TrimSuffix(peer.HTTP, "/")+path, nil)
				if err != nil {
					return err
				}
				req.Header.Set(echo.HeaderAuthorization, c.Request().Header.Get(echo.HeaderAuthorization))
				req.Header.Set(forwardedHeader, s.node)
				resp, err := peerClient.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return json.NewDecoder(resp.Body).Decode(&v)
			}()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				missing = append(missing, peer.ID)
				return
			}
			got = append(got, v)
		}()
	}
	wg.Wait()
	slices.Sort(missing)
	return got, missing
}
