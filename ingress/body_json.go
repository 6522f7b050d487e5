package ingress

import (
	"bytes"
	"net/http"

	jsonv2 "github.com/goccy/go-json/v2"
)

// decodeBody decodes one JSON object strictly: unknown member names (names
// match exactly, case included), a name given twice, invalid UTF-8 and
// data after the object are errors. An empty body decodes as {}.
//
// It decodes with github.com/goccy/go-json/v2 (encoding/json/v2's
// semantics) and RejectUnknownMembers: as strict as encoding/json's
// Decoder with DisallowUnknownFields, stricter where that one is lax
// (case-insensitive names, duplicates), and 48 bytes of garbage a body
// against the Decoder's 1 KB (its read buffer), which mattered for the
// acknowledgement latency's tail (GC).
func decodeBody(b []byte, into any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := jsonv2.Unmarshal(b, into, jsonv2.RejectUnknownMembers(true)); err != nil {
		return &bodyError{http.StatusBadRequest, CodeMalformedBody, "body is not the expected JSON object: " + err.Error()}
	}
	return nil
}
