package httpapi

import "net/http"

// ContentSecurityPolicy is the policy of every answer. The page loads only
// its own /static/app.js and /static/style.css (no inline script or
// style, no eval) and fetches only /api/v1 on its own origin; SVG drawn
// by the script uses presentation attributes, which CSP does not govern.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SetSecurityHeaders sets the security headers of every answer, page or
// API: the CSP, no framing, no content sniffing, no referrer.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// SecurityHeaders wraps h so every answer carries SetSecurityHeaders
// (Serve wraps the whole mux, the submissions API included).
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header())
		h.ServeHTTP(w, r)
	})
}
