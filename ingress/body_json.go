package ingress

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/goccy/go-json/jsontext"
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
//
// The error says what is wrong in the API's terms (field names, JSON
// kinds); the decoder's own error, which names Go types, is kept for the
// log only.
func decodeBody(b []byte, into any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := jsonv2.Unmarshal(b, into, jsonv2.RejectUnknownMembers(true)); err != nil {
		return refusal(http.StatusBadRequest, CodeMalformedBody, jsonProblem(err), err)
	}
	return nil
}

// jsonProblem describes a decoding error without Go's words for it.
func jsonProblem(err error) string {
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return fmt.Sprintf("field %q is given twice", syn.JSONPointer.LastToken())
	case errors.As(err, &syn):
		return fmt.Sprintf("the body is not valid JSON (at byte %d)", syn.ByteOffset)
	case errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
		return fmt.Sprintf("unknown field %q", sem.JSONPointer.LastToken())
	case errors.As(err, &sem) && sem.JSONPointer != "":
		return fmt.Sprintf("field %q must be %s", sem.JSONPointer.LastToken(), jsonKindOf(sem.GoType))
	}
	return "the body must be a JSON object"
}

// jsonKindOf names the JSON value a Go type takes.
func jsonKindOf(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "another kind of value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another kind of value"
}
