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
	"time"

	"github.com/argus-vms/argus/actors/media/fakecam"
	"github.com/argus-vms/argus/actors/media/fakecam/onvifsrv"
)

// runFakecam serves a looping H264 or H265 test pattern, optionally with a
// tone, over RTSP at rtsp://HOST:PORT/<path> for demos and tests, until
// SIGINT/SIGTERM.
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
	codec := f.String("codec", "h264", "video codec: h264|h265")
	audio := f.String("audio", "none", "audio track, a 440 Hz tone beeping every second: none|aac (AAC-LC 48 kHz)|pcma|pcmu (G.711 8 kHz)|opus (48 kHz)")
	onvifListen := f.String("onvif", "", "also serve ONVIF (device, media, PTZ, events; one profile per path) at this HTTP host:port, e.g. :8580; --user/--pass protect it too")
	discovery := f.String("discovery", "", "with --onvif: answer WS-Discovery probes at this UDP host:port (unicast), e.g. :3702; \"multicast\" also joins 239.255.255.250:3702")
	ptz := f.Bool("ptz", true, "with --onvif: the profiles have PTZ")
	motionEvery := f.Duration("motion-every", 0, "with --onvif: raise and clear an ONVIF motion event this often (0 = never)")
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
	switch *codec {
	case fakecam.CodecH264, fakecam.CodecH265:
	default:
		return fmt.Errorf("fakecam: --codec %q: want h264 or h265", *codec)
	}
	switch *audio {
	case fakecam.AudioNone, fakecam.AudioAAC, fakecam.AudioPCMA, fakecam.AudioPCMU, fakecam.AudioOpus:
	default:
		return fmt.Errorf("fakecam: --audio %q: want none, aac, pcma, pcmu or opus", *audio)
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
		Codec:     *codec,
		Audio:     *audio,
		Log:       log,
	})
	if err != nil {
		return err
	}
	defer cam.Close()
	if *onvifListen != "" {
		srv, err := startONVIF(ctx, cam, w, h, *codec, *onvifListen, *discovery, *ptz, *motionEvery, *user, *pass)
		if err != nil {
			return err
		}
		defer srv.Close()
		fmt.Println(srv.DeviceURL())
	}
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

// startONVIF serves cam's paths as ONVIF profiles (one video source each);
// the picture of each path shows where its PTZ head points and its motion.
func startONVIF(ctx context.Context, cam *fakecam.Camera, w, h int, codec, listen, discovery string, ptz bool, motionEvery time.Duration, user, pass string) (*onvifsrv.Server, error) {
	o := onvifsrv.Options{Listen: listen, Username: user, Password: pass, PTZ: ptz, MotionEvery: motionEvery}
	pathOf := map[string]string{}
	for i, p := range cam.Paths() {
		token := fmt.Sprintf("profile_%d", i+1)
		pathOf[token] = p
		o.Profiles = append(o.Profiles, onvifsrv.Profile{Token: token, Name: p, StreamURI: cam.StreamURI(p), Width: w, Height: h,
			Encoding: strings.ToUpper(codec)})
	}
	o.OnView = cam.ViewSetter(pathOf)
	switch discovery {
	case "":
	case "multicast":
		o.Discovery, o.DiscoveryMulticast = true, true
	default:
		o.Discovery, o.DiscoveryListen = true, discovery
	}
	return onvifsrv.Start(ctx, o)
}
