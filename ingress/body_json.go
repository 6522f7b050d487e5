package ingress

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// decodeBody decodes one JSON object strictly: unknown fields and trailing
// data are errors. An empty body decodes as {}.
//
// An API body is one small object of known fields. json.Unmarshal decodes
// it with a quarter of a json.Decoder's garbage (no decoder, no 512-byte
// read buffer) but cannot refuse unknown fields, so its result is taken
// only when a scan of the object's top-level keys finds each of them,
// unescaped, among the struct's JSON field names. Everything else (an
// Unmarshal error, an escaped or unknown key) is decided by the strict
// Decoder, which gives the answer and the error message. FuzzDecodeBody
// checks that the two ways agree.
func decodeBody(b []byte, into any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if names := jsonFieldNames(into); names != nil && json.Unmarshal(b, into) == nil && onlyKnownKeys(b, names) {
		return nil
	}
	return decodeStrict(b, into)
}

// decodeStrict is decodeBody with encoding/json's strict Decoder only.
func decodeStrict(b []byte, into any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return &bodyError{http.StatusBadRequest, CodeMalformedBody, "body is not the expected JSON object: " + err.Error()}
	}
	if dec.More() {
		return &bodyError{http.StatusBadRequest, CodeMalformedBody, "body has data after the JSON object"}
	}
	return nil
}

// fieldNamesCache maps a struct type to its JSON field names (nil: a type
// decodeBody leaves to the strict Decoder).
var fieldNamesCache sync.Map // reflect.Type -> []string

// jsonFieldNames returns the JSON names of the fields of the struct into
// points to, or nil unless it is a plain one: exported fields with simple
// names, none embedded.
func jsonFieldNames(into any) []string {
	t := reflect.TypeOf(into)
	if v, ok := fieldNamesCache.Load(t); ok {
		return v.([]string)
	}
	var names []string
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		names = []string{}
		for f := range t.Elem().Fields() {
			if f.Anonymous {
				names = nil
				break
			}
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			if !plainName(name) {
				names = nil
				break
			}
			names = append(names, name)
		}
	}
	fieldNamesCache.Store(t, names)
	return names
}

func plainName(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// onlyKnownKeys reports whether b, valid JSON, is null or an object whose
// keys are all unescaped and match a name (as encoding/json matches them:
// exactly or else case-insensitively). false means "ask the Decoder", not
// "invalid".
func onlyKnownKeys(b []byte, names []string) bool {
	i := skipSpace(b, 0)
	if i < len(b) && b[i] == 'n' {
		return true // null: no fields
	}
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != '"' {
			return false
		}
		end := bytes.IndexByte(b[i+1:], '"')
		if end < 0 {
			return false
		}
		key := b[i+1 : i+1+end]
		if bytes.IndexByte(key, '\\') >= 0 || !knownKey(key, names) {
			return false
		}
		i = skipSpace(b, i+1+end+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		if i = skipValue(b, skipSpace(b, i+1)); i < 0 {
			return false
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

func knownKey(key []byte, names []string) bool {
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i]
// (b is valid JSON, the value is inside an object), or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
			i++
		case c == '{' || c == '[':
			depth++
			i++
		case c == '}' || c == ']':
			if depth == 0 {
				return i // a number or literal ended by its object's end
			}
			depth--
			i++
		case c == ',' && depth == 0:
			return i // a number or literal ended by the next member
		default:
			i++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return i
		}
	}
	return -1
}
