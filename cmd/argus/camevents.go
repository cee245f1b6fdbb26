package main

import (
	"context"
	"log/slog"

	"github.com/argus-vms/argus/actors/device"
	"github.com/argus-vms/argus/actors/media/onvif"
)

// cameraWatch follows an ONVIF camera's events for its device actor: the
// onvif package's watch (PullPoint, renewed, resubscribed after failures),
// each notification classified.
func cameraWatch(log *slog.Logger) device.CameraWatch {
	return func(ctx context.Context, url, username, password string, fn func(device.CameraEvent)) {
		w := onvif.WatchOptions{Log: log, OnState: func(connected bool, err error) {
			if !connected {
				log.Info("camera events: subscription lost, resubscribing", "onvif", url, "err", err)
			}
		}}
		onvif.Watch(ctx, url, onvif.Options{Username: username, Password: password}, w, func(n onvif.Notification) {
			ev := onvif.Classify(n)
			fn(device.CameraEvent{Kind: ev.Kind, Topic: ev.Topic, Source: ev.Source, State: ev.State, Time: ev.Time})
		})
	}
}
