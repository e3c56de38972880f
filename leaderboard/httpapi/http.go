package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// ErrorStatus returns the HTTP status for err, from the one table in
// package apierr, which the submissions API shares.
func ErrorStatus(err error) int { return apierr.StatusOf(err) }

// serveError answers with the JSON error for err; an internal error is
// logged and answered with "internal error" only.
func (s *Server) serveError(c *gin.Context, err error) {
	code := leaderboard.ErrorCode(err)
	if !apierr.Known(code) {
		code = leaderboard.EINTERNAL
	}
	switch {
	case code == leaderboard.EINTERNAL:
		s.cfg.Logger.Error("leaderboard request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	case code == apierr.Classify(err):
		// A full disk or an unreachable database (no generation loaded
		// yet): a fixed message for the client, the details for the log.
		s.cfg.Logger.Error("leaderboard request failed: "+string(code), "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	if code == apierr.EUNAVAILABLE && apierr.Classify(err) == code {
		c.Header("Retry-After", strconv.Itoa(int(apierr.RetryAfter.Seconds())))
	}
	c.Header("Cache-Control", "no-store")
	if ErrorStatus(err) == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		// Too many page builds queued: retry soon.
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(ErrorStatus(err), wire.Error{Error: wire.ErrorBody{Code: string(code), Message: leaderboard.ErrorMessage(err)}})
}

// handler is a request handler that reports failure by returning an error.
type handler func(c *gin.Context) error

func (s *Server) wrap(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.serveError(c, err)
		}
	}
}

// serveEntry writes e with its validators, or 304 when the client's
// If-None-Match names it. The gzip copy goes to clients that accept gzip.
func serveEntry(c *gin.Context, e *entry, cacheControl string) {
	body, tag := e.body, e.etag
	h := c.Writer.Header()
	if e.gz != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request.Header.Get("Accept-Encoding")) {
			body, tag = e.gz, e.gzEtag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", tag)
	h.Set("Cache-Control", cacheControl)
	if inm := c.Request.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, e) {
		h.Del("Content-Encoding")
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(http.StatusOK, e.ctype, body)
}

// etagMatch implements If-None-Match's weak comparison against both
// representations of e: either means the client's copy is current.
func etagMatch(header string, e *entry) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == e.etag || (e.gzEtag != "" && t == e.gzEtag) {
			return true
		}
	}
	return false
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
