package ingress

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkWriteHandler is one API write through the handler in process
// (the produce still goes to kfake over TCP), serially: the CPU and
// allocations of the ack path.
func BenchmarkWriteHandler(b *testing.B) {
	h := startHarness(b)
	body := []byte(`{"note":"benchmark note"}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/incidents/in-0123456789abcdef0123/notes", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		w := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			b.Fatalf("status %d", w.Code)
		}
	}
}
