package onvif

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"os"
	"testing"

	"github.com/argus-vms/argus/actors/media/httpauth"
)

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// digestParams reads an Authorization header's Digest parameters (none
// for another scheme).
func digestParams(authz string) map[string]string {
	c := httpauth.ParseChallenges(http.Header{"Www-Authenticate": {authz}})
	if len(c) != 1 || c[0].Scheme != "digest" {
		return map[string]string{}
	}
	return c[0].Params
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
