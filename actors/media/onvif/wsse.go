// Package onvif speaks ONVIF to cameras: SOAP 1.2 over HTTP with WS-Security
// UsernameToken (password digest), the device, media, PTZ and event
// services, and WS-Discovery. The client and fakecam's ONVIF service
// (actors/media/fakecam/onvifsrv) share the protocol's pieces from here:
// namespaces, the password digest, the envelope and faults.
package onvif

import (
	"crypto/sha1"
	"encoding/base64"
)

// Namespaces of the ONVIF and WS-* vocabularies used on the wire.
const (
	NSSoap     = "http://www.w3.org/2003/05/soap-envelope"
	NSWsse     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWsu      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	NSDevice   = "http://www.onvif.org/ver10/device/wsdl"
	NSMedia    = "http://www.onvif.org/ver10/media/wsdl"
	NSPTZ      = "http://www.onvif.org/ver20/ptz/wsdl"
	NSEvents   = "http://www.onvif.org/ver10/events/wsdl"
	NSSchema   = "http://www.onvif.org/ver10/schema"
	NSWsnt     = "http://docs.oasis-open.org/wsn/b-2"
	NSWsa      = "http://www.w3.org/2005/08/addressing"
	NSDiscover = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	NSWsaDisc  = "http://schemas.xmlsoap.org/ws/2004/08/addressing" // WS-Discovery uses the 2004 addressing
	NSTopics   = "http://www.onvif.org/ver10/topics"
	NSNetwork  = "http://www.onvif.org/ver10/network/wsdl" // dn:NetworkVideoTransmitter

	// PasswordDigestType and NonceEncoding are the UsernameToken attribute values.
	PasswordDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	NonceEncoding      = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// PasswordDigest is WS-Security's Base64(SHA-1(nonce + created + password)),
// nonce being the raw bytes (not their Base64) and created the exact
// xsd:dateTime string sent in wsu:Created.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}
