package ingress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The tests hold every request they send and every answer they get to
// openapi.json: an answer must be one the document declares for its
// operation (status, headers, content type, body schema), and a request the
// document calls invalid must be refused with a 4xx.

// openAPIRouter is openapi.json loaded, validated and routed, once per test
// binary.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

func init() {
	// The dashboard's files; their bodies are not checked beyond their
	// content type.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	if _, err := openAPIRouter(); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
}

// TestDashboardFilesAsDocumented fetches every file of the dashboard, then
// one again with its ETag and a range of one: the harness holds each answer
// to the document's "/" operation.
func TestDashboardFilesAsDocumented(t *testing.T) {
	h := startHarness(t)
	files, err := os.ReadDir("web/static")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		wantStatus(t, h.get("/"+f.Name(), ""), http.StatusOK)
	}
	etag := h.get("/app.js", "").Header.Get("ETag")
	wantStatus(t, h.do(http.MethodGet, "/app.js", "", nil, "If-None-Match", etag), http.StatusNotModified)
	wantStatus(t, h.do(http.MethodGet, "/app.css", "", nil, "Range", "bytes=0-9"), http.StatusPartialContent)
	wantStatus(t, h.do(http.MethodGet, "/app.css", "", nil, "Range", "bytes=99999999-"), http.StatusRequestedRangeNotSatisfiable)
	wantStatus(t, h.get("/no-such-file.js", ""), http.StatusNotFound)
	wantStatus(t, h.get("/incidents/in-1", ""), http.StatusOK) // followed to the index
}

// TestOpenAPICheckRefusesWhatTheDocumentDoesNot proves the check the
// harness makes is not vacuous: answers and requests the document does not
// allow are reported.
func TestOpenAPICheckRefusesWhatTheDocumentDoesNot(t *testing.T) {
	problem := `{"type":"urn:incidentd:problem:bad_request","title":"Bad Request","status":400,"detail":"d","code":"bad_request","request_id":"r"}`
	for _, c := range []struct {
		name, method, path, auth, reqBody string
		status                            int
		ct, body, want                    string
	}{
		{"undeclared status", "GET", "/api/v1/policy", "Bearer x", "", http.StatusTeapot, "application/problem+json", problem, "status is not supported"},
		{"wrong content type", "GET", "/api/v1/incidents", "Bearer x", "", http.StatusBadRequest, "text/plain", "bad", "Content-Type has unexpected value"},
		{"body not of its schema", "POST", "/api/v1/incidents", "Bearer x", `{"title":"t"}`, http.StatusAccepted, "application/json", `{"incident_id":7}`, "value must be a string"},
		{"problem without its fields", "GET", "/api/v1/incidents", "Bearer x", "", http.StatusBadRequest, "application/problem+json", `{}`, "missing properties"},
		{"invalid request accepted", "POST", "/api/v1/incidents", "Bearer x", `{"title":7}`, http.StatusOK, "application/json", `{}`, "got number, want string"},
		{"missing credentials accepted", "GET", "/api/v1/policy", "", "", http.StatusOK, "application/json", `{}`, "no bearer token"},
		{"undocumented path answered", "GET", "/api/v1/nothing", "Bearer x", "", http.StatusOK, "application/json", `{}`, "is not in the document"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, "http://127.0.0.1"+c.path, strings.NewReader(c.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp := &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {c.ct}, RequestIDHeader: {"r"}}}
			got := strings.Join(openAPIProblems(req, []byte(c.reqBody), resp, []byte(c.body)), "\n")
			if !strings.Contains(got, c.want) {
				t.Fatalf("reported %q, want it to say %q", got, c.want)
			}
		})
	}
}

// dashboardPaths are served by the document's "/" operation, the dashboard's
// catch-all: every path outside the API, the Slack receivers and operations.
func dashboardPath(path string) bool {
	for _, p := range []string{"/api/", "/slack/", "/healthz", "/readyz", "/metrics"} {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return true
}

// checkOpenAPI fails t if the answer resp (with body) to req (with
// reqBody) is not one openapi.json declares, or if the document calls req
// invalid and the server did not refuse it with a 4xx.
func checkOpenAPI(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	t.Helper()
	for _, p := range openAPIProblems(req, reqBody, resp, body) {
		t.Errorf("openapi: %s", p)
	}
}

// openAPIProblems says what checkOpenAPI fails on.
func openAPIProblems(req *http.Request, reqBody []byte, resp *http.Response, body []byte) []string {
	router, err := openAPIRouter()
	if err != nil {
		return []string{"openapi.json: " + err.Error()}
	}
	what := req.Method + " " + req.URL.RequestURI()
	routed := req.Clone(context.Background())
	if dashboardPath(req.URL.Path) {
		routed.URL.Path, routed.URL.RawPath = "/", ""
	}
	route, params, err := router.FindRoute(routed)
	if err != nil {
		if errors.Is(err, routers.ErrPathNotFound) || errors.Is(err, routers.ErrMethodNotAllowed) {
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
				return []string{fmt.Sprintf("%s is not in the document, yet answered %d", what, resp.StatusCode)}
			}
			return nil
		}
		return []string{fmt.Sprintf("route %s: %v", what, err)}
	}
	var problems []string
	routed.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{
		Request:    routed,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: credentialsPresent,
		},
	}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil &&
		(resp.StatusCode < 400 || resp.StatusCode >= 500) {
		problems = append(problems, fmt.Sprintf("%s is invalid by the document, yet answered %d: %v", what, resp.StatusCode, reqErr))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		problems = append(problems, fmt.Sprintf("answer %d to %s is not one the document declares: %v\nbody: %.2000s", resp.StatusCode, what, err, body))
	}
	return problems
}

// credentialsPresent is the document's security schemes as far as a
// request's shape goes: the header each one names is there. Whether the
// credential is right is the server's to say (401).
func credentialsPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header
	switch s := in.SecurityScheme; s.Type {
	case "http":
		if !strings.HasPrefix(h.Get("Authorization"), "Bearer ") {
			return errors.New("no bearer token")
		}
	case "apiKey":
		if h.Get(s.Name) == "" {
			return errors.New("no " + s.Name)
		}
	}
	return nil
}

// serveChecked serves req (whose body is reqBody) through handler in
// process and holds the exchange to openapi.json, as the harness's client
// does over TCP.
func serveChecked(t testing.TB, handler http.Handler, req *http.Request, reqBody []byte) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	checkOpenAPI(t, req, reqBody, w.Result(), w.Body.Bytes())
	return w
}
