package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/argus-vms/argus/events/embedded"
)

// flags is a FlagSet whose every flag defaults from its ARGUS_* twin, so
// flags, environment and (later) a config file share one set of names.
type flags struct {
	*flag.FlagSet
	envPrefix string
}

// newFlags is for the node commands: --nats-listen ↔ ARGUS_NATS_LISTEN.
func newFlags(name string) flags {
	return flags{flag.NewFlagSet(name, flag.ContinueOnError), "ARGUS_"}
}

// newToolFlags is for tools beside the node, whose twins carry the tool's
// name so they never clash with a node's: --listen ↔ ARGUS_FAKECAM_LISTEN.
func newToolFlags(name string) flags {
	return flags{flag.NewFlagSet(name, flag.ContinueOnError), "ARGUS_" + strings.ToUpper(name) + "_"}
}

// envName is the environment twin of a flag.
func (f flags) envName(flagName string) string {
	return f.envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f flags) String(name, def, help string) *string {
	if v, ok := os.LookupEnv(f.envName(name)); ok {
		def = v
	}
	return f.FlagSet.String(name, def, help+" ["+f.envName(name)+"]")
}

func (f flags) Int(name string, def int, help string) *int {
	if v, ok := os.LookupEnv(f.envName(name)); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			fmt.Fprintf(os.Stderr, "argus: ignoring %s=%q: not an integer\n", f.envName(name), v)
		}
	}
	return f.FlagSet.Int(name, def, help+" ["+f.envName(name)+"]")
}

// Bool flags take true/false/1/0 (and the other forms of strconv.ParseBool)
// from their twin; on the command line --flag alone means true.
func (f flags) Bool(name string, def bool, help string) *bool {
	if v, ok := os.LookupEnv(f.envName(name)); ok {
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			def = b
		} else {
			fmt.Fprintf(os.Stderr, "argus: ignoring %s=%q: not a boolean (true/false/1/0)\n", f.envName(name), v)
		}
	}
	return f.FlagSet.Bool(name, def, help+" ["+f.envName(name)+"]")
}

func (f flags) Duration(name string, def time.Duration, help string) *time.Duration {
	if v, ok := os.LookupEnv(f.envName(name)); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			fmt.Fprintf(os.Stderr, "argus: ignoring %s=%q: not a duration\n", f.envName(name), v)
		}
	}
	return f.FlagSet.Duration(name, def, help+" ["+f.envName(name)+"]")
}

// natsSyncHelp explains --nats-sync; each command appends its own default.
const natsSyncHelp = "embedded NATS fsync: \"always\" fsyncs every event before its 2xx (survives a power loss; one fsync per event), " +
	"or an interval such as 1s or 2m writes every event to the kernel before its 2xx (survives a crash or kill -9 of this process) " +
	"and fsyncs in the background every interval (a power loss loses up to that much); "

// parseNATSSync reads --nats-sync (ARGUS_NATS_SYNC) into the embedded
// server's setting; an invalid value stops the start with the reason.
func parseNATSSync(f flags, v string) (embedded.Sync, error) {
	s, err := embedded.ParseSync(v)
	if err != nil {
		return s, fmt.Errorf("%s: --nats-sync (%s): %w", f.Name(), f.envName("nats-sync"), err)
	}
	return s, nil
}

// nodeConfig is what every node needs, in dev and serve alike.
type nodeConfig struct {
	http       *string
	data       *string
	nodeID     *string
	clickhouse *string
	chUser     *string
	chPassword *string
	chTLS      *bool
	chTLSCA    *string
	adminKey   *string
	secret     *string
	shards     *int
	logLevel   *string

	nats natsFlags

	rtsp          *string
	rtsps         *string
	rtspUDP       *string
	tlsCert       *string
	tlsKey        *string
	advertise     *string
	peerPort      *int
	peerTLS       *bool
	peerCA        *string
	peerCert      *string
	peerKey       *string
	probeInterval *time.Duration
	idleTimeout   *time.Duration
	ptzIdle       *time.Duration
	offlineAlarm  *time.Duration
	hookPrivate   *bool
	hookBackoff   *time.Duration
	pullTransport *string
	tokenTTL      *time.Duration
	tokenMaxTTL   *time.Duration
	viewIdle      *time.Duration
	workerSlots   *int
	taskLease     *time.Duration
	webrtc        webrtcFlags
	publicURL     *string
	publicRTSP    *string
	uploadMax     *int

	storageFlags

	mqttURL, mqttUser, mqttPassword, mqttCA, mqttEvents *string
	natsOut                                             *string
}

// storageFlags choose the recording storage (nodes and workers share it:
// workers read recordings and write results there).
type storageFlags struct {
	data                                                                 *string
	recordings, s3Endpoint, s3Bucket, s3AccessKey, s3SecretKey, s3Region *string
}

func addStorageFlags(f flags, data *string) storageFlags {
	return storageFlags{data: data,
		recordings:  f.String("recordings", "", "directory of recorded segments (default <data>/recordings)"),
		s3Endpoint:  f.String("s3-endpoint", "", "S3-compatible endpoint for recordings (http(s)://host:port); empty = local directory"),
		s3Bucket:    f.String("s3-bucket", "argus", "S3 bucket of recordings"),
		s3AccessKey: f.String("s3-access-key", "", "S3 access key"),
		s3SecretKey: f.String("s3-secret-key", "", "S3 secret key (never logged)"),
		s3Region:    f.String("s3-region", "", "S3 region (empty: ask the server)"),
	}
}

// defaultNodeID is the host name made into a valid id (lowercase, other
// characters as '-'), so `argus dev` starts on any machine.
func defaultNodeID() string {
	host, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	id := strings.TrimLeft(b.String(), "-_")
	if len(id) > 63 {
		id = id[:63]
	}
	if id == "" {
		return "node-1"
	}
	return id
}

func addNodeFlags(f flags) *nodeConfig {
	host := defaultNodeID()
	data := f.String("data", "./data", "data directory")
	return &nodeConfig{
		http:         f.String("http", ":8080", "HTTP API listen address"),
		data:         data,
		nodeID:       f.String("node-id", host, "this node's id, unique in the cluster"),
		clickhouse:   f.String("clickhouse", "", "ClickHouse native host:port (dev: empty = start clickhouse-server from PATH, \"none\" = run without)"),
		chUser:       f.String("clickhouse-user", "default", "ClickHouse user"),
		chPassword:   f.String("clickhouse-password", "", "ClickHouse password (never logged; dev's own clickhouse-server child gets one derived from the cluster secret)"),
		chTLS:        f.Bool("clickhouse-tls", false, "connect to ClickHouse over TLS (its secure native port, usually 9440)"),
		chTLSCA:      f.String("clickhouse-tls-ca", "", "CA (PEM) that verifies ClickHouse's certificate (default: the system's)"),
		adminKey:     f.String("admin-key", "", "admin API key (dev generates one into <data>/admin.key)"),
		secret:       f.String("secret", "", "cluster secret for tokens and sealed credentials (dev generates <data>/secret.key)"),
		shards:       f.Int("shards", 64, "shard count, fixed when the cluster is created"),
		logLevel:     f.String("log-level", "info", "debug|info|warn|error"),
		nats:         addNATSFlags(f),
		storageFlags: addStorageFlags(f, data),

		rtsp:          f.String("rtsp", ":8554", "RTSP relay listen address"),
		rtsps:         f.String("rtsps", "", "RTSP over TLS listen address, e.g. :8322 (needs --tls-cert and --tls-key); empty = off"),
		tlsCert:       f.String("tls-cert", "", "TLS certificate (PEM) of the HTTP API (HTTPS) and of --rtsps"),
		tlsKey:        f.String("tls-key", "", "key of --tls-cert (PEM)"),
		rtspUDP:       f.String("rtsp-udp", ":8000", "UDP RTP port for RTSP readers (RTCP uses the next port); empty disables UDP"),
		advertise:     f.String("advertise", "", "host clients reach this node at, in live URLs (default: the host of --http, else 127.0.0.1)"),
		peerPort:      f.Int("peer-port", 7000, "port of the node-to-node actor transport (hollywood remote); peers reach it at --advertise; 0 picks a free port"),
		peerTLS:       f.Bool("peer-tls", true, "mutual TLS on the peer port: nodes prove they hold the cluster's identity (a CA derived from the cluster secret, or --peer-tls-ca); false only behind a network that authenticates nodes itself"),
		peerCA:        f.String("peer-tls-ca", "", "CA (PEM) of the peer transport instead of the one derived from the cluster secret (with --peer-tls-cert and --peer-tls-key)"),
		peerCert:      f.String("peer-tls-cert", "", "this node's peer certificate (PEM), signed by --peer-tls-ca"),
		peerKey:       f.String("peer-tls-key", "", "key of --peer-tls-cert (PEM)"),
		probeInterval: f.Duration("probe-interval", 30*time.Second, "how often every camera is probed (RTSP DESCRIBE); 0 disables"),
		idleTimeout:   f.Duration("idle-timeout", 30*time.Second, "a live stream with no reader stops after this"),
		ptzIdle:       f.Duration("ptz-session-idle", 30*time.Second, "an operator's session of PTZ moves (one audit event) ends after this long without a move"),
		hookPrivate:   f.Bool("webhook-allow-private", false, "let webhooks target loopback, private and link-local addresses (refused by default: a key holder could reach internal services)"),
		hookBackoff:   f.Duration("webhook-retry-max", 10*time.Minute, "longest wait between two attempts of one webhook delivery (retries go on for 24 h)"),
		offlineAlarm:  f.Duration("alarm-offline-after", time.Minute, "a device offline this long raises an \"offline\" alarm (cleared when it is back); 0 disables"),
		pullTransport: f.String("pull-transport", "tcp", "transport of camera pulls: tcp|udp"),
		tokenTTL:      f.Duration("token-ttl", 5*time.Minute, "default lifetime of live and playback tokens (?ttl= asks for another)"),
		tokenMaxTTL:   f.Duration("token-max-ttl", 24*time.Hour, "longest lifetime a live or playback token may be given"),
		viewIdle:      f.Duration("view-idle", 30*time.Second, "viewing audit: an HLS or MP4 view ends when its player made no request for this long"),
		workerSlots:   f.Int("worker-slots", 2, "task slots of this node's own worker (group \"default\"; one is kept for online tasks such as snapshots); 0 = none, tasks run on `argus worker` processes"),
		uploadMax:     f.Int("upload-max-size", 4<<30, "largest VOD upload, in bytes (POST /v1/uploads/ with a larger Upload-Length is 413)"),
		webrtc:        addWebRTCFlags(f),
		publicURL:     f.String("public-url", "", "base URL clients reach this node's HTTP at, in live, HLS and WebRTC URLs and redirects (e.g. https://cams.example.com:8443); empty = from --advertise"),
		publicRTSP:    f.String("public-rtsp", "", "base URL clients reach this node's RTSP relay at, in live URLs (e.g. rtsp://cams.example.com:8554); empty = from --advertise"),
		taskLease:     f.Duration("task-lease", 15*time.Second, "how long a worker slot holds a task between renewals: a task of a worker that died runs again elsewhere after this"),

		mqttURL:      f.String("mqtt-url", "", "MQTT broker to publish alarms, events and device status to (mqtt://host:1883, mqtts://host:8883); empty = none"),
		mqttUser:     f.String("mqtt-user", "", "MQTT user name"),
		mqttPassword: f.String("mqtt-password", "", "MQTT password (never logged)"),
		mqttCA:       f.String("mqtt-tls-ca", "", "CA (PEM) the mqtts:// broker's certificate is checked against (default the system's)"),
		mqttEvents:   f.String("mqtt-events", "alarm.*,device.online,device.offline", "event filters published on argus/events/<type> (alarms also on argus/alarms/<device>)"),
		natsOut:      f.String("nats-out", "", "event filters published as JSON on argus.out.<type>.<device> of the cluster's NATS, e.g. 'alarm.*,device.*'; empty = none"),
	}
}

// subcommand reads a tool's subcommand (args[0]), one of allowed, printing
// the tool's usage when it is missing or unknown.
func subcommand(tool, usage string, args []string, allowed ...string) (string, error) {
	want := strings.Join(allowed, " or ")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(os.Stderr, usage)
		return "", fmt.Errorf("%s: want a subcommand: %s", tool, want)
	}
	for _, a := range allowed {
		if args[0] == a {
			return a, nil
		}
	}
	fmt.Fprint(os.Stderr, usage)
	return "", fmt.Errorf("%s: unknown subcommand %q (want %s)", tool, args[0], want)
}

// isSet reports whether a flag was given on the command line or through
// its ARGUS_* twin.
func isSet(f flags, name string) bool {
	if _, ok := os.LookupEnv(f.envName(name)); ok {
		return true
	}
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// validate checks the flags whose mistakes should stop a node before it
// binds anything.
func (c *nodeConfig) validate() error {
	if err := checkBaseURL("--public-url", *c.publicURL, "http", "https"); err != nil {
		return err
	}
	return checkBaseURL("--public-rtsp", *c.publicRTSP, "rtsp", "rtsps")
}

// checkBaseURL checks a base URL flag: empty, or scheme://host[:port] with
// one of schemes and no path, query or credentials.
func checkBaseURL(flag, v string, schemes ...string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%s %q: want %s://host[:port]", flag, v, schemes[0])
	}
	return nil
}
