package onvif

import (
	"context"
	"errors"
	"strings"
	"time"
)

// DeviceInfo is GetDeviceInformation's answer.
type DeviceInfo struct {
	Manufacturer    string `xml:"Manufacturer"`
	Model           string `xml:"Model"`
	FirmwareVersion string `xml:"FirmwareVersion"`
	SerialNumber    string `xml:"SerialNumber"`
	HardwareID      string `xml:"HardwareId"`
}

func deviceAction(op string) string { return NSDevice + "/" + op }

// Connect measures the camera's clock (GetSystemDateAndTime, which needs no
// credentials), so that every later UsernameToken is created at the
// camera's time, then finds its media, PTZ and event services
// (GetCapabilities, or GetServices when that fails). A camera that refuses
// to tell its time is trusted to share ours.
func (c *Client) Connect(ctx context.Context) error {
	if err := c.syncClock(ctx); err != nil {
		return err
	}
	s, err := c.capabilities(ctx)
	if err != nil {
		var fault *Fault
		if !errors.As(err, &fault) {
			return err
		}
		var serr error
		if s, serr = c.servicesList(ctx); serr != nil {
			return err // the first refusal is the telling one
		}
	}
	c.mu.Lock()
	c.services = s
	c.mu.Unlock()
	return nil
}

// HasPTZ reports whether Connect found a PTZ service.
func (c *Client) HasPTZ() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services.hasPTZ
}

// MediaURL, PTZURL and EventsURL are the service addresses in use ("" for
// the device service's).
func (c *Client) MediaURL() string  { return c.service(func(s services) string { return s.media }) }
func (c *Client) PTZURL() string    { return c.service(func(s services) string { return s.ptz }) }
func (c *Client) EventsURL() string { return c.service(func(s services) string { return s.events }) }

func (c *Client) service(pick func(services) string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := pick(c.services); a != "" {
		return a
	}
	return c.device.String()
}

type getSystemDateAndTime struct {
	XMLName struct{} `xml:"http://www.onvif.org/ver10/device/wsdl GetSystemDateAndTime"`
}

type systemDateAndTimeResponse struct {
	SystemDateAndTime struct {
		UTCDateTime *onvifDateTime `xml:"UTCDateTime"`
	} `xml:"SystemDateAndTime"`
}

type onvifDateTime struct {
	Time struct {
		Hour   int `xml:"Hour"`
		Minute int `xml:"Minute"`
		Second int `xml:"Second"`
	} `xml:"Time"`
	Date struct {
		Year  int `xml:"Year"`
		Month int `xml:"Month"`
		Day   int `xml:"Day"`
	} `xml:"Date"`
}

func (d *onvifDateTime) utc() (time.Time, bool) {
	if d == nil || d.Date.Year == 0 || d.Date.Month < 1 || d.Date.Month > 12 || d.Date.Day < 1 || d.Date.Day > 31 {
		return time.Time{}, false
	}
	return time.Date(d.Date.Year, time.Month(d.Date.Month), d.Date.Day,
		d.Time.Hour, d.Time.Minute, d.Time.Second, 0, time.UTC), true
}

// syncClock sets the clock offset from GetSystemDateAndTime. Only an
// unreachable camera or one that is not ONVIF fails it.
func (c *Client) syncClock(ctx context.Context) error {
	var out systemDateAndTimeResponse
	sent := time.Now()
	err := c.call(ctx, request{action: deviceAction("GetSystemDateAndTime"), body: getSystemDateAndTime{}, anonymous: true}, &out)
	var fault *Fault
	switch {
	case errors.Is(err, ErrUnauthorized) || errors.As(err, &fault):
		return nil
	case err != nil:
		return err
	}
	camera, ok := out.SystemDateAndTime.UTCDateTime.utc()
	if !ok {
		return nil
	}
	// The camera read its clock about halfway through the exchange, and
	// dropped on average half a second to whole seconds.
	now := sent.Add(time.Since(sent) / 2)
	offset := camera.Add(500 * time.Millisecond).Sub(now)
	c.mu.Lock()
	c.offset = offset
	c.mu.Unlock()
	return nil
}

type getCapabilities struct {
	XMLName  struct{} `xml:"http://www.onvif.org/ver10/device/wsdl GetCapabilities"`
	Category string   `xml:"Category"`
}

type xaddrOnly struct {
	XAddr string `xml:"XAddr"`
}

type capabilitiesResponse struct {
	Capabilities struct {
		Media  *xaddrOnly `xml:"Media"`
		PTZ    *xaddrOnly `xml:"PTZ"`
		Events *xaddrOnly `xml:"Events"`
	} `xml:"Capabilities"`
}

func (x *xaddrOnly) addr() string {
	if x == nil {
		return ""
	}
	return x.XAddr
}

func (c *Client) capabilities(ctx context.Context) (services, error) {
	var out capabilitiesResponse
	if err := c.call(ctx, request{action: deviceAction("GetCapabilities"), body: getCapabilities{Category: "All"}}, &out); err != nil {
		return services{}, err
	}
	caps := out.Capabilities
	s := services{
		media:  resolveXAddr(c.device, caps.Media.addr()),
		ptz:    resolveXAddr(c.device, caps.PTZ.addr()),
		events: resolveXAddr(c.device, caps.Events.addr()),
	}
	s.hasPTZ = s.ptz != ""
	return s, nil
}

type getServices struct {
	XMLName           struct{} `xml:"http://www.onvif.org/ver10/device/wsdl GetServices"`
	IncludeCapability bool     `xml:"IncludeCapability"`
}

type servicesResponse struct {
	Service []struct {
		Namespace string `xml:"Namespace"`
		XAddr     string `xml:"XAddr"`
	} `xml:"Service"`
}

func (c *Client) servicesList(ctx context.Context) (services, error) {
	var out servicesResponse
	if err := c.call(ctx, request{action: deviceAction("GetServices"), body: getServices{}}, &out); err != nil {
		return services{}, err
	}
	var s services
	for _, svc := range out.Service {
		addr := resolveXAddr(c.device, svc.XAddr)
		switch strings.TrimSpace(svc.Namespace) {
		case NSMedia:
			s.media = addr
		case NSPTZ:
			s.ptz = addr
		case NSEvents:
			s.events = addr
		}
	}
	s.hasPTZ = s.ptz != ""
	return s, nil
}

type getDeviceInformation struct {
	XMLName struct{} `xml:"http://www.onvif.org/ver10/device/wsdl GetDeviceInformation"`
}

// DeviceInformation asks the camera who it is.
func (c *Client) DeviceInformation(ctx context.Context) (DeviceInfo, error) {
	var out DeviceInfo
	if err := c.call(ctx, request{action: deviceAction("GetDeviceInformation"), body: getDeviceInformation{}}, &out); err != nil {
		return DeviceInfo{}, err
	}
	for _, f := range []*string{&out.Manufacturer, &out.Model, &out.FirmwareVersion, &out.SerialNumber, &out.HardwareID} {
		*f = strings.TrimSpace(*f)
	}
	return out, nil
}
