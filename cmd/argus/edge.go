package main

import (
	"context"
	"net"
	"time"

	"github.com/argus-vms/argus/actors/edge"
	"github.com/argus-vms/argus/actors/media/ondemand"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/gateway"
)

// edgeTokenTTL is the life of an edge pull's token; the owner ends the
// session then and the edge reconnects with a fresh one.
const edgeTokenTTL = 12 * time.Hour

// startEdges makes the node's edge relays: streams another node owns,
// served here to readers that ask for them (edge=1) from one pull of the
// owner's relay.
func (n *node) startEdges(signer *token.Signer) {
	n.edges = edge.New(edge.Config{
		Owner: n.edgeSource,
		Token: func(k relay.Key) string {
			return signer.Sign(token.Claims{Kind: token.Live, Device: k.Device, Channel: k.Channel,
				Expires: time.Now().Add(edgeTokenTTL).Truncate(time.Second), KeyID: edge.PeerKeyID})
		},
		IdleTimeout: *n.cfg.idleTimeout,
		Log:         n.log,
	})
}

// edgeSource is the RTSP base an edge pulls device from: its owner's
// relay, or this node's own when the shard is (or moved) here.
func (n *node) edgeSource(device string) (string, bool) {
	if n.cluster != nil {
		o, self, ok := n.cluster.Owner(events.ShardOf(device, n.host.Shards()))
		if !ok {
			return "", false
		}
		if !self {
			return o.RTSP, true
		}
	}
	_, port, err := net.SplitHostPort(n.relay.RTSPAddr())
	if err != nil {
		return "", false
	}
	return "rtsp://" + net.JoinHostPort("127.0.0.1", port), true
}

// viewerNodes are the cluster's live nodes and their loads, for the live
// API's choice of node.
func (n *node) viewerNodes() []gateway.NodeLoad {
	var out []gateway.NodeLoad
	for _, m := range n.cluster.Members() {
		out = append(out, gateway.NodeLoad{
			OwnerInfo: gateway.OwnerInfo{Node: m.ID, HTTPBase: m.HTTP, RTSPBase: m.RTSP, RTSPSBase: m.RTSPS,
				PublicHTTP: m.PublicHTTP, PublicRTSP: m.PublicRTSP},
			Readers: m.Readers, Self: m.ID == *n.cfg.nodeID,
		})
	}
	return out
}

// onDemandStreams are the node's edge streams and renditions, as /v1/streams
// lists them.
func (n *node) onDemandStreams() []gateway.StreamInfo {
	var out []gateway.StreamInfo
	for kind, list := range map[string][]ondemand.Running{"edge": n.edges.List(), "rendition": n.renditions.List()} {
		for _, r := range list {
			k, state := r.Stream.Key(), "starting"
			if r.Stream.Ready() {
				state = "live"
			}
			out = append(out, gateway.StreamInfo{Device: k.Device, Channel: k.Channel, Kind: kind, Codec: string(k.Codec),
				Node: *n.cfg.nodeID, State: state, Readers: r.Stream.Readers(), BitrateKbps: r.Stream.BitrateKbps(), Since: r.Since})
		}
	}
	return out
}

// openLive is the stream of k for this node's readers: its own when it
// hosts k, else its edge of the owner's.
func (n *node) openLive(ctx context.Context, k relay.Key) (*relay.Stream, error) {
	if _, remote := n.rtspOwner(k); remote && n.edges != nil {
		return n.edges.Open(ctx, k)
	}
	if k.Codec != "" {
		return n.openRendition(ctx, k)
	}
	return n.host.OpenStream(ctx, k)
}
