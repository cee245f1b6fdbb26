package testenv

import (
	"net/http"
	"testing"
)

// CheckExchange, when set (by a test package's init), is called by
// (*Node).Do with every exchange it completes: the request as it was last
// sent (after redirects), its body, and the answer's status, headers and
// body. The e2e tests set it to check each exchange against the OpenAPI
// description (test/e2e/openapi_check_test.go). It may be called from
// several goroutines at once; it reports mismatches through t.
var CheckExchange func(t testing.TB, req *http.Request, reqBody []byte, status int, hdr http.Header, body []byte)
