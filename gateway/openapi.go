package gateway

import (
	"net/http"
	"path"

	"github.com/argus-vms/argus/gateway/openapi"
	"github.com/labstack/echo/v4"
)

// docsAssets are the files GET /docs/{file} serves, with their types.
var docsAssets = map[string]string{
	"docs.js":  "text/javascript; charset=utf-8",
	"docs.css": "text/css; charset=utf-8",
}

// openAPIRoutes serves the API description (GET /v1/openapi.json, no auth)
// and a page rendering it (GET /docs, its script and style under /docs/).
// The page has no inline script or style, so it works under a strict CSP.
func (s *Server) openAPIRoutes(e *echo.Echo) {
	e.GET("/v1/openapi.json", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openapi.Spec)
	})
	e.GET("/docs", func(c echo.Context) error {
		b, err := openapi.Docs.ReadFile("docs.html")
		if err != nil {
			return err
		}
		setDocsHeaders(c)
		return c.Blob(http.StatusOK, echo.MIMETextHTMLCharsetUTF8, b)
	})
	e.GET("/docs/:file", func(c echo.Context) error {
		name := path.Base(c.Param("file"))
		ct, ok := docsAssets[name]
		if !ok || name != c.Param("file") {
			return problem(http.StatusNotFound, "", "no such resource")
		}
		b, err := openapi.Docs.ReadFile(name)
		if err != nil {
			return problem(http.StatusNotFound, "", "no such resource")
		}
		setDocsHeaders(c)
		return c.Blob(http.StatusOK, ct, b)
	})
}

// setDocsHeaders sends the page's security headers: only same-origin
// scripts, styles and fetches.
func setDocsHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set(echo.HeaderCacheControl, "no-cache")
}
