package onvifsrv

import (
	"github.com/argus-vms/argus/actors/media/onvif"
)

// The faults this camera answers, with the codes of ONVIF Core's fault
// table (and WS-BaseNotification's for subscriptions). Code and subcode
// prefixes are those the envelope declares.

func senderFault(reason string, subcodes ...string) *onvif.Fault {
	return onvif.NewFault(onvif.FaultSender, reason, subcodes...)
}

func receiverFault(reason string, subcodes ...string) *onvif.Fault {
	return onvif.NewFault(onvif.FaultReceiver, reason, subcodes...)
}

var (
	faultNotAuthorized = senderFault("Sender not Authorized", "ter:NotAuthorized")
	faultNotSupported  = receiverFault("Optional Action Not Implemented", "ter:ActionNotSupported")
	faultNoPTZ         = receiverFault("PTZ is not supported", "ter:ActionNotSupported", "ter:PTZNotSupported")
	faultVersion       = onvif.NewFault("env:VersionMismatch", "SOAP version mismatch: only SOAP 1.2 is spoken here")
	faultTooLarge      = senderFault("Message too large", "ter:InvalidArgs")
)

func faultWellFormed(err error) *onvif.Fault {
	return senderFault("XML is not well formed: "+err.Error(), "ter:WellFormed")
}

func faultInvalidArgs(reason string) *onvif.Fault {
	return senderFault(reason, "ter:InvalidArgs")
}

// faultInvalidArgVal is env:Sender/ter:InvalidArgVal/<sub> (ter:NoProfile,
// ter:NoToken, ter:InvalidPosition…).
func faultInvalidArgVal(sub, reason string) *onvif.Fault {
	return senderFault(reason, "ter:InvalidArgVal", sub)
}

func faultNoProfile(token string) *onvif.Fault {
	return faultInvalidArgVal("ter:NoProfile", "no profile with token "+quoteToken(token))
}

// faultNoSubscription is what WS-ResourceFramework answers for an unknown
// (never created, expired, unsubscribed or lost in a restart) resource.
func faultNoSubscription(id string) *onvif.Fault {
	return senderFault("no subscription "+quoteToken(id)+" (unknown, expired or ended)", "wsrf-rw:ResourceUnknownFault")
}

func quoteToken(t string) string {
	if len(t) > 80 {
		t = t[:80] + "…"
	}
	return `"` + t + `"`
}

// faultNode is f as the SOAP 1.2 Fault element.
func faultNode(f *onvif.Fault) node {
	var sub node
	for i := len(f.Subcodes) - 1; i >= 0; i-- {
		s := el("env:Subcode", leaf("env:Value", f.Subcodes[i]))
		if !sub.empty() {
			s = s.add(sub)
		}
		sub = s
	}
	return el("env:Fault",
		el("env:Code", leaf("env:Value", f.Code), sub),
		el("env:Reason", leaf("env:Text", f.Reason).attr("xml:lang", "en")),
	)
}
