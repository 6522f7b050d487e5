package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every file. The pages load only their
// own script and style sheet, talk only to their own origin, and draw
// charts as SVG built by script (which CSP does not restrict).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// IncidentPathPrefix starts the path of an incident's page,
// /incidents/ID: the link on an incident card. The server redirects it to
// the application's route, /#/incidents/ID.
const IncidentPathPrefix = "/incidents/"

// Handler serves the dashboard at "/": index.html for "/" (and
// "/index.html"), the other files by name, 404 for anything else. It
// answers GET and HEAD only. Mount it after the API routes.
func Handler() http.Handler {
	files := map[string]file{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(b)
		files["/"+strings.TrimPrefix(p, "static/")] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to walk them is a build defect.
		panic("web: embedded files: " + err.Error())
	}
	files["/"] = files["/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if id, ok := strings.CutPrefix(r.URL.Path, IncidentPathPrefix); ok && id != "" && !strings.Contains(id, "/") {
			// The link an incident card carries: the application
			// routes by fragment, so send the browser there.
			h.Set("Cache-Control", "no-store")
			http.Redirect(w, r, "/#"+IncidentPathPrefix+url.PathEscape(id), http.StatusFound)
			return
		}
		f, ok := files[r.URL.Path]
		if !ok {
			h.Set("Cache-Control", "no-store")
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		// ServeContent answers If-None-Match with 304 and handles HEAD
		// and ranges; the zero time sends no Last-Modified.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
	})
}
