package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerServesFiles(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/app.js"></script>`},
		{"/index.html", "text/html; charset=utf-8", `<main id="main"`},
		{"/app.js", "text/javascript; charset=utf-8", "import { start } from './router.js';"},
		{"/router.js", "text/javascript; charset=utf-8", "export function start()"},
		{"/app.css", "text/css; charset=utf-8", ":focus-visible"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	} {
		w := get(t, h, http.MethodGet, tc.path, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", tc.path, w.Code)
		}
		if got := w.Header().Get("Content-Type"); got != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.contentType)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != ContentSecurityPolicy {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, got)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tc.path, got)
		}
		if w.Header().Get("ETag") == "" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", tc.path, w.Header())
		}
		if !strings.Contains(w.Body.String(), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	etag := get(t, h, http.MethodGet, "/app.js", nil).Header().Get("ETag")
	w := get(t, h, http.MethodGet, "/app.js", map[string]string{"If-None-Match": etag})
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Fatalf("If-None-Match %s: status %d, %d bytes; want 304 and nothing", etag, w.Code, w.Body.Len())
	}
	if w := get(t, h, http.MethodGet, "/app.js", map[string]string{"If-None-Match": `"stale"`}); w.Code != http.StatusOK {
		t.Fatalf("stale ETag: status %d, want 200", w.Code)
	}
}

func TestHandlerRefuses(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/nope", "/static/app.js", "/app.js/", "/incidents/", "/incidents/inc-1/x", "/../go.mod"} {
		w := get(t, h, http.MethodGet, path, nil)
		if w.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, w.Code)
		}
		if w.Header().Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: a 404 without the CSP", path)
		}
	}
	w := get(t, h, http.MethodPost, "/", nil)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := get(t, h, http.MethodHead, "/", nil); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD /: status %d, %d bytes", w.Code, w.Body.Len())
	}
}

// TestCSPHasNoEscapeHatch keeps the policy strict: nothing inline, nothing
// evaluated, nothing from elsewhere.
func TestCSPHasNoEscapeHatch(t *testing.T) {
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "http:", "https:", "strict-dynamic"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("the policy allows %q: %s", bad, ContentSecurityPolicy)
		}
	}
	if !strings.HasPrefix(ContentSecurityPolicy, "default-src 'self';") {
		t.Errorf("the policy does not start with default-src 'self': %s", ContentSecurityPolicy)
	}
}

// TestNoInlineCodeOrHTMLInjection guards the rules the page relies on: no
// inline script, style or event handler in the HTML (the CSP would refuse
// them anyway, and silently), and no innerHTML-like sink in the script.
func TestNoInlineCodeOrHTMLInjection(t *testing.T) {
	html, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`), // a script with a body
		regexp.MustCompile(`<script(?:(?:\s(?:defer|type="[a-z/]+"))*)\s*>`),
		regexp.MustCompile(`<style`),
		regexp.MustCompile(`\son[a-z]+\s*=`),
		regexp.MustCompile(`\sstyle\s*=`),
		regexp.MustCompile(`javascript:`),
	} {
		if m := re.Find(html); m != nil {
			t.Errorf("index.html has inline code: %q", m)
		}
	}
	modules, err := fs.Glob(static, "static/*.js")
	if err != nil || len(modules) < 2 {
		t.Fatalf("the dashboard's modules: %q, %v", modules, err)
	}
	for _, m := range modules {
		js, err := static.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, sink := range []string{".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'"} {
			if strings.Contains(string(js), sink) {
				t.Errorf("%s uses %s; build DOM with textContent and createElement (dom.js)", m, sink)
			}
		}
	}
}

// TestModulesAreTypeChecked: every module opts into type checking (make
// test-web runs tsc over them) and imports only modules that exist, by a
// relative path the server answers.
func TestModulesAreTypeChecked(t *testing.T) {
	modules, err := fs.Glob(static, "static/*.js")
	if err != nil {
		t.Fatal(err)
	}
	h := Handler()
	importRE := regexp.MustCompile(`(?m)^import .* from '([^']+)';$`)
	for _, m := range modules {
		js, _ := static.ReadFile(m)
		if !strings.HasPrefix(string(js), "// @ts-check\n") {
			t.Errorf("%s does not start with // @ts-check", m)
		}
		for _, imp := range importRE.FindAllStringSubmatch(string(js), -1) {
			p, ok := strings.CutPrefix(imp[1], "./")
			if !ok {
				t.Errorf("%s imports %q: want a relative ./ path", m, imp[1])
				continue
			}
			if w := get(t, h, http.MethodGet, "/"+p, nil); w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
				t.Errorf("%s imports %s: GET /%s is %d %q", m, imp[1], p, w.Code, w.Header().Get("Content-Type"))
			}
		}
	}
}
