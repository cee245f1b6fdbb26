package gateway

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
)

// debugRoutes serves Go's profiler to admins: CPU and heap profiles of a
// live node are how its cost per command is found.
func (s *Server) debugRoutes(admin echo.MiddlewareFunc) {
	g := s.e.Group("/debug/pprof", admin)
	g.GET("/", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	g.GET("/cmdline", echo.WrapHandler(http.HandlerFunc(pprof.Cmdline)))
	g.GET("/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	g.GET("/symbol", echo.WrapHandler(http.HandlerFunc(pprof.Symbol)))
	g.GET("/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
	g.GET("/:name", func(c echo.Context) error {
		pprof.Handler(c.Param("name")).ServeHTTP(c.Response(), c.Request())
		return nil
	})
}
