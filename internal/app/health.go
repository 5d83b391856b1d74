package app

import (
	"context"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/laurel-edu/laurel/internal/apperr"
	"github.com/laurel-edu/laurel/internal/web"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registerOps adds the endpoints operators and orchestrators rely on.
func (a *App) registerOps(r *gin.Engine) {
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		status, body := http.StatusOK, gin.H{"postgres": "ok", "redis": "ok"}
		if err := a.DB.PingContext(ctx); err != nil {
			status, body["postgres"] = http.StatusServiceUnavailable, "unreachable"
		}
		if err := a.Redis.Ping(ctx).Err(); err != nil {
			status, body["redis"] = http.StatusServiceUnavailable, "unreachable"
		}
		c.JSON(status, body)
	})
	if a.Config.MetricsListen == "" {
		r.GET("/metrics", gin.WrapH(a.metricsHandler()))
	}
}

// metricsHandler serves the registry, behind LAUREL_METRICS_TOKEN when set.
func (a *App) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{Registry: a.Metrics})
	tok := a.Config.MetricsToken
	if tok == "" {
		return h
	}
	want := []byte("Bearer " + tok)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			web.ServeError(w, r, apperr.Errorf(apperr.Unauthorized, "Metrics need Authorization: Bearer <LAUREL_METRICS_TOKEN>."))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// metricsServer is the server of LAUREL_METRICS_LISTEN (only /metrics), or
// nil when metrics are served on the main address.
func (a *App) metricsServer() *http.Server {
	if a.Config.MetricsListen == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metricsHandler())
	return &http.Server{Addr: a.Config.MetricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

var notFound = apperr.Errorf(apperr.NotFound, "There is no page at this address.")
