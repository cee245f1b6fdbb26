package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/argus-vms/argus/actors/media/fakecam"
)

// runFakecam serves a looping H264 test pattern over RTSP at
// rtsp://HOST:PORT/<path> for demos and tests, until SIGINT/SIGTERM.
func runFakecam(args []string) error {
	f := newToolFlags("fakecam")
	listen := f.String("listen", ":8555", "RTSP listen address host:port (TCP; UDP transport uses two free ports on the same host)")
	paths := f.String("paths", "cam1", "comma-separated paths, each serving the same video")
	user := f.String("user", "", "require RTSP authentication with this user")
	pass := f.String("pass", "", "password for --user")
	dropEvery := f.Duration("drop-every", 0, "fault injection: close every reader connection this often (0 = never)")
	size := f.String("size", "640x360", "video size WIDTHxHEIGHT (even numbers)")
	fps := f.Int("fps", 25, "frames per second")
	bitrate := f.Int("bitrate", 2_000_000, "video bitrate, bits/s")
	gop := f.Int("gop", 0, "frames between keyframes (0 = fps, one a second)")
	logLevel := f.String("log-level", "info", "debug|info|warn|error")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("fakecam: unexpected arguments %q", f.Args())
	}
	w, h, err := parseSize(*size)
	if err != nil {
		return err
	}
	var ps []string
	for p := range strings.SplitSeq(*paths, ",") {
		if p = strings.TrimSpace(p); p != "" {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return errors.New("fakecam: --paths is empty")
	}
	log, flushLog := newLogger(*logLevel)
	defer flushLog()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cam, err := fakecam.Start(ctx, fakecam.Options{
		Listen:    *listen,
		Paths:     ps,
		User:      *user,
		Pass:      *pass,
		DropEvery: *dropEvery,
		Width:     w,
		Height:    h,
		FPS:       *fps,
		Bitrate:   *bitrate,
		GOP:       *gop,
		Log:       log,
	})
	if err != nil {
		return err
	}
	defer cam.Close()
	for _, p := range cam.Paths() {
		// The password is shown as xxxxx: it is the one given with --pass.
		u, err := url.Parse(cam.URL(p))
		if err != nil {
			return err
		}
		fmt.Println(u.Redacted())
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		w, err = strconv.Atoi(ws)
		if err == nil {
			h, err = strconv.Atoi(hs)
		}
	}
	if !ok || err != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("fakecam: --size %q: want WIDTHxHEIGHT, e.g. 640x360", s)
	}
	return w, h, nil
}
