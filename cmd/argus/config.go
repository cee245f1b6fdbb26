package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// flags is a FlagSet whose every flag defaults from its ARGUS_* twin, so
// flags, environment and (later) a config file share one set of names.
type flags struct {
	*flag.FlagSet
}

func newFlags(name string) flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return flags{fs}
}

// EnvName is the environment twin of a flag: --nats-listen ↔ ARGUS_NATS_LISTEN.
func envName(flagName string) string {
	return "ARGUS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f flags) String(name, def, help string) *string {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	return f.FlagSet.String(name, def, help+" ["+envName(name)+"]")
}

func (f flags) Int(name string, def int, help string) *int {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			fmt.Fprintf(os.Stderr, "argus: ignoring %s=%q: not an integer\n", envName(name), v)
		}
	}
	return f.FlagSet.Int(name, def, help+" ["+envName(name)+"]")
}

func (f flags) Duration(name string, def time.Duration, help string) *time.Duration {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			fmt.Fprintf(os.Stderr, "argus: ignoring %s=%q: not a duration\n", envName(name), v)
		}
	}
	return f.FlagSet.Duration(name, def, help+" ["+envName(name)+"]")
}

// nodeConfig is what every node needs, in dev and serve alike.
type nodeConfig struct {
	http       *string
	data       *string
	nodeID     *string
	clickhouse *string
	adminKey   *string
	secret     *string
	shards     *int
	logLevel   *string
}

func addNodeFlags(f flags) *nodeConfig {
	host, _ := os.Hostname()
	return &nodeConfig{
		http:       f.String("http", ":8080", "HTTP API listen address"),
		data:       f.String("data", "./data", "data directory"),
		nodeID:     f.String("node-id", host, "this node's id, unique in the cluster"),
		clickhouse: f.String("clickhouse", "", "ClickHouse native host:port (dev: empty = start clickhouse-server from PATH, \"none\" = run without)"),
		adminKey:   f.String("admin-key", "", "admin API key (dev generates one into <data>/admin.key)"),
		secret:     f.String("secret", "", "cluster secret for tokens and sealed credentials (dev generates <data>/secret.key)"),
		shards:     f.Int("shards", 64, "shard count, fixed when the cluster is created"),
		logLevel:   f.String("log-level", "info", "debug|info|warn|error"),
	}
}
