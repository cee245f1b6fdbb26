package gateway

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// NodeLoad is a node as the live API chooses among them for a viewer.
type NodeLoad struct {
	OwnerInfo
	Readers int  // live readers it serves
	Self    bool // this node
}

// edgeQuery marks a media request a node serves for a stream another node
// owns (relay.EdgeQuery): it pulls the owner's relay once and fans out.
const edgeQuery = "edge"

// edgeSpread: a new viewer goes to the stream's owner unless that serves
// this many more readers than the least loaded node, which then serves
// the viewer as an edge (heartbeats carry the loads, so a burst of joins
// within half a second lands on one node: ?node= spreads them exactly).
const edgeSpread = 50

// viewerNode is the node the live URLs of device send a viewer to:
// ?node= when given, else the owner unless another node is much less
// loaded. edge reports that it is not the owner.
func (s *Server) viewerNode(c echo.Context, device string) (n NodeLoad, edge bool, p *Problem) {
	want := c.QueryParam("node")
	owner := s.node
	if o, remote := s.remoteOwner(device); remote {
		owner = o.Node
	}
	if s.live.Nodes == nil {
		if want != "" && want != s.node {
			return n, false, problem(http.StatusNotFound, "node", "no node %q serves live video here", want)
		}
		return NodeLoad{Self: true}, false, nil
	}
	nodes := s.live.Nodes()
	var least, own *NodeLoad
	for i := range nodes {
		nd := &nodes[i]
		if want != "" && nd.Node == want {
			return *nd, nd.Node != owner, nil
		}
		if nd.Node == owner {
			own = nd
		}
		if least == nil || nd.Readers < least.Readers {
			least = nd
		}
	}
	switch {
	case want != "":
		return n, false, problem(http.StatusNotFound, "node", "no live node %q in the cluster", want)
	case own == nil || least == nil:
		return NodeLoad{Self: owner == s.node}, false, nil // the owner's own URLs (mediaBases)
	case own.Readers >= least.Readers+edgeSpread:
		return *least, least.Node != owner, nil
	}
	return *own, false, nil
}

// nodeBases are the client-facing URL bases of a node.
func (s *Server) nodeBases(n NodeLoad) (rtspBase, rtspsBase, httpBase, node string) {
	if n.Self {
		rtspBase, rtspsBase, httpBase = s.selfBases()
		return rtspBase, rtspsBase, httpBase, s.node
	}
	return n.clientRTSP(), strings.TrimSuffix(n.RTSPSBase, "/"), n.clientHTTP(), n.Node
}
