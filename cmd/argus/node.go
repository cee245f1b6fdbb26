package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/anthdm/hollywood/remote"
	"github.com/argus-vms/argus/actors/alarm"
	"github.com/argus-vms/argus/actors/audit"
	"github.com/argus-vms/argus/actors/cluster"
	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/edge"
	"github.com/argus-vms/argus/actors/media/playback"
	"github.com/argus-vms/argus/actors/media/probe"
	"github.com/argus-vms/argus/actors/media/record"
	"github.com/argus-vms/argus/actors/media/relay"
	"github.com/argus-vms/argus/actors/media/storage"
	"github.com/argus-vms/argus/actors/media/token"
	"github.com/argus-vms/argus/actors/media/whep"
	"github.com/argus-vms/argus/actors/peertls"
	"github.com/argus-vms/argus/actors/plan"
	"github.com/argus-vms/argus/actors/rendition"
	"github.com/argus-vms/argus/actors/shard"
	"github.com/argus-vms/argus/actors/stream"
	"github.com/argus-vms/argus/actors/webhook"
	"github.com/argus-vms/argus/events"
	"github.com/argus-vms/argus/events/secret"
	"github.com/argus-vms/argus/gateway"
	"github.com/argus-vms/argus/notify/delivery"
	"github.com/argus-vms/argus/notify/outputs"
	notifyhook "github.com/argus-vms/argus/notify/webhook"
	"github.com/argus-vms/argus/projections"
	"github.com/argus-vms/argus/work/upload"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// node is one running Argus node: actors, gateway and projections on a
// NATS connection.
type node struct {
	cfg     *nodeConfig
	log     *slog.Logger
	nc      *nats.Conn
	engine  *actor.Engine
	remote  *remote.Remote
	cluster *cluster.Manager
	host    *shard.Host
	relay   *relay.Server
	edges   *edge.Edges // streams owned elsewhere served here
	// renditions are transcodes of streams owned here (?codec=h264)
	renditions *rendition.Renditions
	whep       *whep.Server // nil: WebRTC off
	http       *http.Server
	tls        *tls.Config // HTTPS and RTSPS (nil: plain)
	keys       *gateway.KeyStore
	audit      *audit.Recorder // viewing audit: the views this node served
	views      *audit.Sessions // HTTP requests grouped into views
	proj       *projections.Service
	wg         sync.WaitGroup
	stop       context.CancelFunc
	// pictures takes channel pictures for alarms: the gateway, once it runs.
	pictures atomic.Pointer[gateway.Server]
}

// picture is a JPEG of a channel hosted here (alarms' pictures).
func (n *node) picture(ctx context.Context, device string, ch int) ([]byte, error) {
	gw := n.pictures.Load()
	if gw == nil {
		return nil, errors.New("the node is still starting")
	}
	return gw.Picture(ctx, device, ch)
}

// serverTLS is the TLS of the HTTP API and RTSPS (--tls-cert/--tls-key),
// nil without.
func serverTLS(cfg *nodeConfig) (*tls.Config, error) {
	if (*cfg.tlsCert == "") != (*cfg.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if *cfg.tlsCert == "" {
		if *cfg.rtsps != "" {
			return nil, errors.New("--rtsps needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(*cfg.tlsCert, *cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// rtspsTLS is the relay's RTSPS TLS: the server's, when RTSPS is on.
func rtspsTLS(c *tls.Config, addr string) *tls.Config {
	if addr == "" {
		return nil
	}
	return c
}

// peerTransport is the config of the node-to-node transport: mutual TLS
// with the cluster's identity unless --peer-tls=false.
func peerTransport(cfg *nodeConfig) (remote.Config, error) {
	rc := remote.NewConfig()
	files := *cfg.peerCA != "" || *cfg.peerCert != "" || *cfg.peerKey != ""
	switch {
	case !*cfg.peerTLS && files:
		return rc, errors.New("--peer-tls-ca/cert/key need --peer-tls")
	case !*cfg.peerTLS:
		return rc, nil
	case files && (*cfg.peerCA == "" || *cfg.peerCert == "" || *cfg.peerKey == ""):
		return rc, errors.New("give all of --peer-tls-ca, --peer-tls-cert and --peer-tls-key, or none (the CA then derives from the cluster secret)")
	}
	var tc *tls.Config
	var err error
	if files {
		tc, err = peertls.FromFiles(*cfg.peerCA, *cfg.peerCert, *cfg.peerKey)
	} else {
		tc, err = peertls.FromSecret([]byte(*cfg.secret), *cfg.nodeID)
	}
	if err != nil {
		return rc, err
	}
	return rc.WithTLS(tc), nil
}

// newLogger logs text lines to stderr through a logWriter; the returned
// func writes out what is queued and must run before the process exits.
func newLogger(level string) (*slog.Logger, func()) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	w := newLogWriter(os.Stderr)
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})
	return slog.New(flushOnWarn{h, w}), w.Close
}

// startNode connects to NATS, activates the shards, starts projections (when
// chAddr is set) and serves HTTP. It returns once the node is ready.
func startNode(ctx context.Context, cfg *nodeConfig, log *slog.Logger, target natsTarget, chAddr string, replicas int) (*node, error) {
	if cfg.secret == nil || len(*cfg.secret) < 16 {
		return nil, errors.New("ARGUS_SECRET must be set (at least 16 characters), the same on every node")
	}
	if *cfg.adminKey == "" {
		return nil, errors.New("ARGUS_ADMIN_KEY must be set")
	}
	if !events.ValidID(*cfg.nodeID) {
		return nil, fmt.Errorf("node id %q %s", *cfg.nodeID, events.IDRule)
	}
	// No reconnect buffer: a publish while disconnected fails at once rather
	// than landing after reconnecting, when this node may have lost its
	// shards (a zombie's event must never reach the log).
	nc, err := nats.Connect(target.url, append([]nats.Option{nats.Name("argus-" + *cfg.nodeID), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.ReconnectBufSize(-1),
		// Only the servers it was given: addresses a cluster advertises are
		// often not reachable from here (containers), and a node told to
		// use one server must not wander off to another.
		nats.IgnoreDiscoveredServers()}, target.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect NATS %s: %w", target.name(), err)
	}
	n := &node{cfg: cfg, log: log, nc: nc}
	runCtx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	fail := func(err error) (*node, error) { n.Close(); return nil, err }

	store, err := events.Open(ctx, nc, events.WithReplicas(replicas))
	if err != nil {
		return fail(err)
	}
	index, err := store.OpenSegments(ctx, replicas)
	if err != nil {
		return fail(err)
	}
	// A log written before the segment index had its own stream: move its
	// segment facts there (once per cluster).
	if err := events.MigrateSegments(ctx, store, index, replicas, log); err != nil {
		return fail(err)
	}
	cursors, err := delivery.EnsureBucket(ctx, store.JetStream(), replicas)
	if err != nil {
		return fail(err)
	}
	snaps, err := store.OpenSnapshots(ctx, replicas)
	if err != nil {
		return fail(err)
	}
	shards, err := clusterShards(ctx, store.JetStream(), *cfg.shards, replicas)
	if err != nil {
		return fail(err)
	}
	sealer, err := secret.NewSealer([]byte(*cfg.secret))
	if err != nil {
		return fail(err)
	}
	advertise := *cfg.advertise
	if advertise == "" {
		advertise = advertiseHost(*cfg.http)
	}
	peer, err := peerAddress(advertise, *cfg.peerPort)
	if err != nil {
		return fail(err)
	}
	// Peers reach this node's actors at advertise:peer-port; the engine's
	// address is also what every PID of this node carries.
	if n.tls, err = serverTLS(cfg); err != nil {
		return fail(err)
	}
	rc, err := peerTransport(cfg)
	if err != nil {
		return fail(err)
	}
	n.remote = remote.New(peer, rc)
	engine, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(n.remote))
	if err != nil {
		return fail(fmt.Errorf("node-to-node transport on %s: %w", peer, err))
	}
	n.engine = engine
	deps := &device.Deps{Store: store, Sealer: sealer, Node: *cfg.nodeID, Directory: device.NewDirectory(), Log: log,
		ProbeSlots: make(chan struct{}, 64), CameraWatch: cameraWatch(log), OfflineAlarmAfter: *cfg.offlineAlarm}
	if *cfg.probeInterval > 0 { // 0 disables probing, the first one after a change included
		deps.Probe = probe.Describe
	}
	store2, err := openStorage(cfg.storageFlags, log)
	if err != nil {
		return fail(err)
	}
	// Segments a crash left half-written: finalize what plays, drop the rest
	// (before any recorder starts writing again).
	recovered, err := record.RecoverPartials(ctx, store2)
	if err != nil {
		log.Warn("recovering partial segments", "err", err)
	}
	work, err := openQueues(ctx, nc, replicas, *cfg.taskLease, log)
	if err != nil {
		return fail(err)
	}
	n.host = shard.New(engine, deps, shard.Config{
		Task:          taskDeps(work),
		Shards:        shards,
		ProbeInterval: *cfg.probeInterval,
		Stream:        stream.Deps{IdleTimeout: *cfg.idleTimeout, Transport: *cfg.pullTransport},
		Plan:          plan.Deps{Storage: store2, Index: index},
		// The gateway takes the pictures (the snapshot API's path); it
		// starts after the host.
		Alarm: alarm.Deps{Storage: store2, Picture: func(ctx context.Context, device string, ch int) ([]byte, error) { return n.picture(ctx, device, ch) }},
		Webhook: webhook.Deps{Cursors: cursors, AllowPrivate: *cfg.hookPrivate, MaxBackoff: *cfg.hookBackoff,
			Client: notifyhook.NewClient(notifyhook.Options{AllowPrivate: *cfg.hookPrivate})},
		Snapshots: snaps,
	})
	keys, err := gateway.NewKeyStore(ctx, store.JetStream(), replicas)
	if err != nil {
		return fail(err)
	}
	n.keys = keys
	n.audit = audit.NewRecorder(store, shards, *cfg.nodeID, log)
	n.views = audit.NewSessions(n.audit.Viewed, *cfg.viewIdle)
	live, err := n.startRelay(keys, []byte(*cfg.secret))
	if err != nil {
		return fail(err)
	}
	if err := n.startWebRTC(live); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", *cfg.http)
	if err != nil {
		return fail(fmt.Errorf("listen %s: %w", *cfg.http, err))
	}
	live.HTTPPort = ln.Addr().(*net.TCPAddr).Port
	if n.tls != nil {
		ln = tls.NewListener(ln, n.tls)
		live.HTTPScheme = "https"
	}
	live.Advertise = advertise
	live.PublicHTTP, live.PublicRTSP = *cfg.publicURL, *cfg.publicRTSP
	host := hostForURL(advertise)
	n.cluster, err = cluster.Start(ctx, cluster.Config{JS: store.JetStream(), Shards: shards, Replicas: replicas, Log: log,
		Load: n.relay.Readers,
		Self: cluster.Member{ID: *cfg.nodeID, Advertise: advertise, Peer: peer,
			HTTP: fmt.Sprintf("%s://%s:%d", live.HTTPScheme, host, live.HTTPPort), RTSP: fmt.Sprintf("rtsp://%s:%d", host, live.RTSPPort),
			RTSPS: live.RTSPSBase(host), PublicHTTP: live.PublicHTTP, PublicRTSP: live.PublicRTSP}},
		n.host)
	if err != nil {
		ln.Close()
		return fail(fmt.Errorf("join the cluster: %w", err))
	}
	n.host.SetOwnership(n.cluster)
	live.Owner = n.mediaOwner
	live.Nodes = n.viewerNodes
	live.PeerOrigins = func() []string {
		var out []string
		for _, m := range n.cluster.Peers() {
			out = append(out, cmp.Or(m.PublicHTTP, m.HTTP))
		}
		return out
	}
	// Ready once this node's first claims serve: a single node then owns
	// every shard, a joining node what the others hand it over time.
	for !n.cluster.Ready() {
		select {
		case <-ctx.Done():
			ln.Close()
			return fail(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Segments a crash left: indexed from here whoever owns their shard
	// (the file is here; with S3 every node serves it).
	for _, seg := range recovered.Published {
		if err := n.host.Recovered(ctx, seg); err != nil {
			log.Error("recovered segment not indexed", "key", seg.Key, "err", err)
		}
	}
	for _, key := range recovered.Removed {
		if err := n.host.RemovedPartial(ctx, key); err != nil {
			log.Warn("removed partial not recorded", "key", key, "err", err)
		}
	}

	var analytics gateway.Analytics
	if chAddr != "" {
		chOpts, err := clickHouseConnect(cfg)
		if err != nil {
			ln.Close()
			return fail(err)
		}
		n.proj = projections.NewService(chAddr, store.Stream(), log, projections.WithSegments(index.Stream()), projections.WithConnect(chOpts...))
		analytics = n.proj
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			// One node projects: the owner of shard 0.
			if err := n.proj.RunWhile(runCtx, func() bool { return n.host.Owns(0) }); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("projections stopped", "err", err)
			}
		}()
	}

	outs, err := busOutputs(cfg, nc)
	if err != nil {
		ln.Close()
		return fail(err)
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		// One node delivers to the buses: the owner of shard 0.
		outputs.RunWhile(runCtx, outputs.Options{Store: store, Cursors: cursors, Outputs: outs, Lead: func() bool { return n.host.Owns(0) }, Log: log})
	}()

	idem, err := gateway.NewIdempotencyStore(ctx, store.JetStream(), replicas, gateway.DefaultIdempotencyTTL, log)
	if err != nil {
		ln.Close()
		return fail(err)
	}
	gw := gateway.New(gateway.Config{Cluster: n.cluster, Devices: n.host, Analytics: analytics, Keys: keys, AdminKey: *cfg.adminKey,
		Node: *cfg.nodeID, Log: log, Live: live, Plans: n.host, Recordings: n.recordings(store2), EventLog: n.host,
		Projections: projectionsAdmin(n.proj), Idempotency: idem, Views: n.views, Cameras: n.host,
		PTZSessionIdle: *cfg.ptzIdle, Alarms: n.host, Pictures: store2, Webhooks: n.host, Tasks: taskBackend{n.host, work},
		Uploads: &gateway.Uploads{Store: upload.New(store2), MaxSize: int64(*cfg.uploadMax)}})
	n.pictures.Store(gw)
	if err := n.startTasks(runCtx, work, gw, jobEnv(index, shards, store2, scratchDir(*cfg.data)), *cfg.workerSlots); err != nil {
		ln.Close()
		return fail(err)
	}
	n.http = &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: gateway.ReadHeaderTimeout, ReadTimeout: gateway.ReadTimeout,
		IdleTimeout: gateway.IdleTimeout} // write deadlines are set per reply (gateway/limits.go)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	log.Info("argus node ready", "node", *cfg.nodeID, "http", ln.Addr().String(), "shards", shards, "version", version)
	return n, nil
}

// startRelay starts the node's RTSP relay: tokens are checked before any
// pull starts; a valid reader makes the stream actor pull on demand.
func (n *node) startRelay(keys *gateway.KeyStore, clusterSecret []byte) (*gateway.Live, error) {
	signer := token.NewSigner(clusterSecret)
	// A token is good while the key that minted it exists (the configured
	// admin key always does).
	signer.KeyCheck = func(id string) bool { return id == gateway.AdminKeyID || id == edge.PeerKeyID || keys.Has(id) }
	n.startEdges(signer)
	n.startRenditions()
	udpRTP, udpRTCP, err := udpPorts(*n.cfg.rtspUDP)
	if err != nil {
		return nil, err
	}
	n.relay, err = relay.NewServer(relay.Config{
		RTSPAddress:    *n.cfg.rtsp,
		RTSPSAddress:   *n.cfg.rtsps,
		TLS:            rtspsTLS(n.tls, *n.cfg.rtsps),
		UDPRTPAddress:  udpRTP,
		UDPRTCPAddress: udpRTCP,
		Authorize: func(k relay.Key, q url.Values) (relay.Grant, error) {
			c, err := signer.CheckLive(q.Get("token"), k.Device, k.Channel, time.Now())
			if err != nil {
				return relay.Grant{}, err
			}
			// The session ends with its token: at expiry, or once its key is deleted.
			return relay.Grant{Until: c.Expires, Check: func() error { return signer.Valid(c, time.Now()) }, Viewer: c.KeyID}, nil
		},
		Viewed: func(v relay.View) {
			n.audit.Viewed(audit.View{Device: v.Key.Device, Channel: v.Key.Channel, KeyID: v.Viewer, Client: v.Client,
				Protocol: "rtsp", Start: v.Start, End: v.End, Bytes: v.Bytes})
		},
		Open:     n.openLive,
		Redirect: n.rtspOwner,
		Publish:  n.publish(signer),
		Log:      n.log,
	})
	if err != nil {
		return nil, err
	}
	if err := n.relay.Start(); err != nil {
		return nil, fmt.Errorf("rtsp relay on %s: %w", *n.cfg.rtsp, err)
	}
	_, port, _ := net.SplitHostPort(n.relay.RTSPAddr()) // the bound port, also when configured as 0
	rtspPort, _ := strconv.Atoi(port)
	rtspsPort := 0
	if a := n.relay.RTSPSAddr(); a != "" {
		_, p, _ := net.SplitHostPort(a)
		rtspsPort, _ = strconv.Atoi(p)
	}
	return &gateway.Live{
		Signer:      signer,
		Advertise:   *n.cfg.advertise,
		RTSPPort:    rtspPort,
		RTSPSPort:   rtspsPort,
		HTTPScheme:  "http",
		TokenTTL:    *n.cfg.tokenTTL,
		MaxTokenTTL: *n.cfg.tokenMaxTTL,
		HLS: func(ctx context.Context, device string, channel int, codec string) (http.Handler, error) {
			k, ok := relay.Key{Device: device, Channel: channel}.Rendition(codec)
			if !ok {
				return nil, relay.ErrNotFound
			}
			st, err := n.openLive(ctx, k)
			if err != nil {
				return nil, err
			}
			return st.HLSHandler(), nil
		},
		Keyframe: func(ctx context.Context, device string, channel int) ([]byte, error) {
			st, err := n.host.OpenStream(ctx, relay.Key{Device: device, Channel: channel})
			if err != nil {
				return nil, err
			}
			if err := st.WaitReady(ctx); err != nil {
				return nil, err
			}
			kf, ok := st.Keyframe()
			if !ok {
				return nil, errors.New("the stream has no keyframe yet")
			}
			return kf.AnnexB, nil
		},
		Streams: func(ctx context.Context) ([]gateway.StreamInfo, error) {
			infos, err := n.host.Streams(ctx)
			out := make([]gateway.StreamInfo, len(infos))
			for i, s := range infos {
				out[i] = gateway.StreamInfo{Device: s.Device, Channel: s.Channel, Kind: "camera", Node: s.Node, State: s.State,
					Readers: s.Readers, BitrateKbps: s.BitrateKbps, Since: s.Since}
			}
			return append(out, n.onDemandStreams()...), err
		},
	}, nil
}

// openStorage is the recording storage: S3 when an endpoint is set, else a
// local directory.
func openStorage(cfg storageFlags, log *slog.Logger) (storage.Storage, error) {
	if *cfg.s3Endpoint != "" {
		s3, err := storage.NewS3(storage.S3Config{Endpoint: *cfg.s3Endpoint, Bucket: *cfg.s3Bucket, AccessKey: *cfg.s3AccessKey,
			SecretKey: *cfg.s3SecretKey, Region: *cfg.s3Region, SpoolDir: filepath.Join(*cfg.data, "s3spool")})
		if err != nil {
			return nil, fmt.Errorf("recordings on S3: %w", err)
		}
		log.Info("recordings on S3", "endpoint", *cfg.s3Endpoint, "bucket", *cfg.s3Bucket)
		return s3, nil
	}
	dir := *cfg.recordings
	if dir == "" {
		dir = filepath.Join(*cfg.data, "recordings")
	}
	return storage.NewLocal(dir)
}

// recordings serves the segment index (ClickHouse) and segment downloads
// (the plan's state names the key; storage serves the bytes).
func (n *node) recordings(st storage.Storage) *gateway.Recordings {
	r := &gateway.Recordings{
		Segment: func(ctx context.Context, device string, channel int, startMS int64) (io.ReadSeekCloser, int64, time.Time, error) {
			segs, err := n.host.PlanSegments(ctx, device, channel, time.UnixMilli(startMS), time.UnixMilli(startMS+1))
			if err != nil {
				return nil, 0, time.Time{}, err
			}
			for _, s := range segs {
				if s.Start == startMS {
					rd, size, err := st.Open(ctx, s.Key)
					return rd, size, time.UnixMilli(s.End), err
				}
			}
			return nil, 0, time.Time{}, errors.New("no such segment")
		},
	}
	open := playback.Opener(st.Open)
	segments := func(ctx context.Context, device string, channel int, from, to time.Time) ([]playback.Segment, error) {
		segs, err := n.host.PlanSegments(ctx, device, channel, from, to)
		if err != nil || len(segs) == 0 {
			return nil, errors.Join(err, errors.New("nothing recorded in the range"))
		}
		out := make([]playback.Segment, len(segs))
		for i, s := range segs {
			out[i] = playback.Segment{Key: s.Key, Start: time.UnixMilli(s.Start), End: time.UnixMilli(s.End), Bytes: s.Bytes}
		}
		return out, nil
	}
	r.MP4 = func(ctx context.Context, device string, channel int, from, to time.Time) (io.ReadSeeker, func() error, error) {
		segs, err := segments(ctx, device, channel, from, to)
		if err != nil {
			return nil, nil, err
		}
		// The file outlives the request context only while it is served.
		f, err := playback.MP4(context.WithoutCancel(ctx), open, segs, from, to)
		if err != nil {
			return nil, nil, err
		}
		return f, f.Close, nil
	}
	r.Playlist = func(ctx context.Context, device string, channel int, from, to time.Time, urlOf func(int64) string) ([]byte, error) {
		segs, err := segments(ctx, device, channel, from, to)
		if err != nil {
			return nil, err
		}
		return playback.Playlist(ctx, open, segs, func(s playback.Segment) string { return urlOf(s.Start.UnixMilli()) })
	}
	r.Video = func(ctx context.Context, device string, channel int, from, to time.Time) (gateway.RangeVideo, error) {
		segs, err := segments(ctx, device, channel, from, to)
		if err != nil {
			return gateway.RangeVideo{}, err
		}
		names, height, err := playback.VideoCodecs(ctx, open, segs)
		if err != nil {
			return gateway.RangeVideo{}, err
		}
		return gateway.RangeVideo{Codecs: names, Height: height, Version: fmt.Sprintf("%d %s", len(segs), segs[len(segs)-1].Key)}, nil
	}
	// The listing reads the segment index too: any node, no ClickHouse,
	// no projection lag.
	r.Index = func(ctx context.Context, device string, channel int, from, to time.Time, limit int) ([]gateway.RecordingItem, error) {
		segs, err := n.host.PlanSegments(ctx, device, channel, from, to)
		if len(segs) > limit {
			segs = segs[:limit]
		}
		out := make([]gateway.RecordingItem, len(segs))
		for i, x := range segs {
			out[i] = gateway.RecordingItem{Device: device, Channel: channel, Start: time.UnixMilli(x.Start), End: time.UnixMilli(x.End), DurationMS: x.DurationMS, Bytes: x.Bytes, Alarms: x.Alarms}
		}
		return out, err
	}
	return r
}

// udpPorts turns ":8000" into the RTP and RTCP addresses (":8000", ":8001").
func udpPorts(rtp string) (string, string, error) {
	if rtp == "" || rtp == "off" {
		return "off", "off", nil
	}
	host, port, err := net.SplitHostPort(rtp)
	if err != nil {
		return "", "", fmt.Errorf("rtsp-udp %q: %w", rtp, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p%2 != 0 {
		return "", "", fmt.Errorf("rtsp-udp %q: needs an even port (RTCP takes the next one)", rtp)
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}

// peerAddress is where peers reach this node's actors; port 0 picks a free
// one (dev, tests).
func peerAddress(advertise string, port int) (string, error) {
	if port == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(advertise, "0"))
		if err != nil {
			return "", fmt.Errorf("peer port on %s: %w", advertise, err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	return net.JoinHostPort(advertise, strconv.Itoa(port)), nil
}

// hostForURL brackets an IPv6 literal.
func hostForURL(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// rtspOwner is the relay's redirect hook: the owner's RTSP base when
// another node hosts the device.
func (n *node) rtspOwner(k relay.Key) (string, bool) {
	if n.cluster == nil {
		return "", false
	}
	o, self, ok := n.cluster.Owner(events.ShardOf(k.Device, n.host.Shards()))
	if !ok || self {
		return "", false
	}
	return o.RTSP, true
}

// mediaOwner tells the gateway which node hosts a device's media.
func (n *node) mediaOwner(device string) (gateway.OwnerInfo, bool) {
	o, self, ok := n.cluster.Owner(events.ShardOf(device, n.host.Shards()))
	if !ok || self {
		return gateway.OwnerInfo{}, true
	}
	return gateway.OwnerInfo{Node: o.ID, HTTPBase: o.HTTP, RTSPBase: o.RTSP, RTSPSBase: o.RTSPS,
		PublicHTTP: o.PublicHTTP, PublicRTSP: o.PublicRTSP}, false
}

// advertiseHost is the host of the HTTP address when it names one.
func advertiseHost(httpAddr string) string {
	h, _, err := net.SplitHostPort(httpAddr)
	if err != nil || h == "" || h == "0.0.0.0" || h == "::" {
		return "127.0.0.1"
	}
	return h
}

// Close hands this node's shards over to the others (their cameras keep
// streaming and recording there), then stops serving, the actors and
// projections.
func (n *node) Close() {
	if n.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		n.cluster.Leave(ctx)
		cancel()
	}
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.http.Shutdown(ctx)
		cancel()
	}
	if n.edges != nil {
		n.edges.Close()
	}
	if n.renditions != nil {
		n.renditions.Close()
	}
	if n.relay != nil {
		n.relay.Close()
	}
	if n.whep != nil {
		n.whep.Close()
	}
	if n.views != nil {
		n.views.Close() // the views still open end now
	}
	if n.audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.audit.Close(ctx)
		cancel()
	}
	if n.host != nil {
		n.host.Stop()
	}
	if n.keys != nil {
		n.keys.Close()
	}
	if n.stop != nil {
		n.stop()
	}
	n.wg.Wait()
	if n.engine != nil && n.remote != nil {
		n.remote.Stop().Wait()
	}
	if n.nc != nil {
		n.nc.Drain()
	}
}

// clusterShards fixes the shard count in KV when the cluster is created and
// reads it back on every later start: changing it would move every device.
func clusterShards(ctx context.Context, js jetstream.JetStream, want, replicas int) (int, error) {
	kv, err := events.EnsureKeyValue(ctx, js, jetstream.KeyValueConfig{Bucket: "argus_cluster", Replicas: replicas, History: 1})
	if err != nil {
		return 0, err
	}
	if want < 1 || want > 4096 {
		return 0, fmt.Errorf("shards must be 1..4096, not %d", want)
	}
	e, err := events.Retry(ctx, "shard count", func(ctx context.Context) (jetstream.KeyValueEntry, error) {
		if _, err := kv.Create(ctx, "shards", []byte(strconv.Itoa(want))); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
		return kv.Get(ctx, "shards")
	})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(e.Value()))
}

// fileSecret returns the value of a secret from its flag/env, else from
// <data>/<file>, else generates one, stores it (0600) and reports generated.
func fileSecret(value, dir, file string) (v string, generated bool, err error) {
	if value != "" {
		return value, false, nil
	}
	path := filepath.Join(dir, file)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), false, nil
	}
	buf := make([]byte, 24)
	rand.Read(buf)
	v = hex.EncodeToString(buf)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return v, true, nil
}
