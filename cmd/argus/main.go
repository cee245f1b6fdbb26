// Command argus is the one binary of Argus: a node of the video cloud, its
// development mode, and its tools.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `argus — event-sourced video cloud

Usage:
  argus dev       one node with embedded NATS, local storage and ClickHouse from PATH
  argus serve     a node against external NATS (ARGUS_NATS)
  argus worker    task slots (snapshots, clips, transcodes) on the cluster's NATS and storage
  argus fakecam   a real RTSP camera (H264/H265 test video, optional audio) for demos and tests
  argus events    replay|tail the event log through the HTTP API (JSON lines)
  argus projections status|rebuild [name]   ClickHouse projections through the HTTP API
  argus version   print the version

Every flag has an ARGUS_* environment twin (--http ↔ ARGUS_HTTP).
Run "argus <command> -h" for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "dev":
		tuneGC()
		err = runDev(args)
	case "serve":
		tuneGC()
		err = runServe(args)
	case "worker":
		tuneGC()
		err = runWorker(args)
	case "fakecam":
		err = runFakecam(args)
	case "events":
		err = runEvents(args)
	case "projections":
		err = runProjections(args)
	case "version", "--version", "-v":
		fmt.Println("argus", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "argus: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "argus:", err)
		os.Exit(1)
	}
}

// tuneGC collects garbage half as often as Go's default unless GOGC says
// otherwise. A node's heap is mostly long-lived (one actor per device, the
// embedded NATS server's indexes), so each collection marks all of it: on
// two cores at 2.5k commands/s that took 250–470 ms every ≈2.5 s, and the
// requests caught in it made the latency tail. The price is a heap up to
// three times the live data instead of two.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}
