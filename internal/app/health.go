package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/laurel-edu/laurel/internal/apperr"
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
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{Registry: a.Metrics})))
}

var notFound = apperr.Errorf(apperr.NotFound, "There is no page at this address.")
