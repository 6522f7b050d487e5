package ingress

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's description. TestOpenAPIMatchesRoutes checks it
// against the registered routes in both directions, and the tests hold
// every request they send and answer they get to it (openapi_check_test.go).
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
