package ingress

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/mux"

	"github.com/incidentd/incidentd/incident"
)

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 200

// maxSizedBody is the largest declared body length readBody allocates up
// front; a longer one is read as it comes (and bounded by MaxBodyBytes).
const maxSizedBody = 64 << 10

// apiWrite is one POST /api/v1/incidents/{id}/PATH route: the command kind
// it issues and how its body fills the command.
type apiWrite struct {
	path string
	kind incident.CommandKind
	// fill decodes the (possibly empty) body into c and returns it; nil
	// means the route takes no fields (an empty body or {}). c goes by
	// value: a pointer given to a function value would move every
	// request's command to the heap.
	fill func(body []byte, c incident.Command) (incident.Command, error)
}

var apiWrites = []apiWrite{
	{"severity", incident.SetSeverity, func(b []byte, c incident.Command) (incident.Command, error) {
		var v struct {
			Severity string `json:"severity"`
		}
		if err := decodeBody(b, &v); err != nil {
			return c, err
		}
		c.Severity = strings.TrimSpace(v.Severity)
		return c, required("severity", c.Severity)
	}},
	{"title", incident.SetTitle, func(b []byte, c incident.Command) (incident.Command, error) {
		var v struct {
			Title string `json:"title"`
		}
		if err := decodeBody(b, &v); err != nil {
			return c, err
		}
		c.Title = v.Title
		if err := required("title", strings.TrimSpace(v.Title)); err != nil {
			return c, err
		}
		return c, checkField("title", strings.TrimSpace(v.Title), incident.MaxTitle, false)
	}},
	{"assign", incident.Assign, func(b []byte, c incident.Command) (incident.Command, error) {
		var v struct {
			Role   string  `json:"role"`
			Person *string `json:"person"`
		}
		if err := decodeBody(b, &v); err != nil {
			return c, err
		}
		if v.Role != string(incident.Commander) && v.Role != string(incident.Assignee) {
			return c, fieldError("role must be \"commander\" or \"assignee\"")
		}
		if v.Person == nil {
			return c, fieldError("person is required (\"\" unassigns)")
		}
		c.Role, c.Person = incident.Role(v.Role), *v.Person
		return c, checkField("person", strings.TrimSpace(c.Person), incident.MaxPerson, false)
	}},
	{"acknowledge", incident.Acknowledge, nil},
	{"mitigate", incident.Mitigate, nil},
	{"resolve", incident.Resolve, nil},
	{"reopen", incident.Reopen, nil},
	{"notes", incident.AddNote, func(b []byte, c incident.Command) (incident.Command, error) {
		var v struct {
			Note string `json:"note"`
		}
		if err := decodeBody(b, &v); err != nil {
			return c, err
		}
		c.Note = v.Note
		if err := required("note", strings.TrimSpace(v.Note)); err != nil {
			return c, err
		}
		return c, checkField("note", strings.TrimSpace(v.Note), incident.MaxNote, true)
	}},
	{"impact-started", incident.SetImpactStarted, func(b []byte, c incident.Command) (incident.Command, error) {
		var v struct {
			At string `json:"at"`
		}
		if err := decodeBody(b, &v); err != nil {
			return c, err
		}
		if err := required("at", v.At); err != nil {
			return c, err
		}
		t, err := parseRFC3339(v.At)
		if err != nil {
			return c, fieldError("at must be an RFC 3339 time, such as 2026-01-02T15:04:05Z")
		}
		c.ImpactStarted = t
		return c, nil
	}},
}

// bodyError is a request the API refuses; status and code say how, the
// detail is shown to the caller.
type bodyError struct {
	status int
	code   string
	detail string
}

func (e *bodyError) Error() string { return e.detail }

// causedError is a refusal with the error behind it, which is logged and
// never shown: Go's words (type names, decoder messages) are not the API's.
type causedError struct {
	*bodyError
	cause error
}

func (e *causedError) Unwrap() error { return e.bodyError }

// refusal is a bodyError with its cause (nil: none).
func refusal(status int, code, detail string, cause error) error {
	be := &bodyError{status, code, detail}
	if cause == nil {
		return be
	}
	return &causedError{be, cause}
}

func fieldError(format string, args ...any) error {
	return &bodyError{http.StatusUnprocessableEntity, CodeInvalidField, fmt.Sprintf(format, args...)}
}

// checkField applies the model's text rule (incident.CheckLine, or
// CheckText for several lines) to a user-supplied field: 422 naming the
// field and what is wrong.
func checkField(name, v string, max int, multiline bool) error {
	check := incident.CheckLine
	if multiline {
		check = incident.CheckText
	}
	if err := check(v, max); err != nil {
		return fieldError("%s %s", name, err)
	}
	return nil
}

func required(name, v string) error {
	if v == "" {
		return fieldError("%s is required", name)
	}
	return nil
}

// readBody reads a bounded request body (limitBody bounds it). A body that
// declares its length is read into a buffer of that length: an API or
// Slack body is a few hundred bytes, and io.ReadAll would start at 512 and
// grow.
func readBody(r *http.Request) ([]byte, error) {
	var b []byte
	var err error
	switch n := r.ContentLength; {
	case n == 0:
		return nil, nil
	case n > 0 && n <= maxSizedBody:
		b = make([]byte, n)
		if _, err = io.ReadFull(r.Body, b); err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("body shorter than its Content-Length %d", n)
		}
	default:
		b, err = io.ReadAll(r.Body)
	}
	if err != nil {
		return nil, readBodyError(err)
	}
	return b, nil
}

func readBodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &bodyError{http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit)}
	}
	return refusal(http.StatusBadRequest, CodeMalformedBody, "the request body could not be read", err)
}

// writeBodyError answers a refused request with its problem document; an
// error that is not a refusal is shown only as "could not be read".
func writeBodyError(w http.ResponseWriter, err error) {
	var be *bodyError
	if !errors.As(err, &be) {
		be = &bodyError{http.StatusBadRequest, CodeMalformedBody, "the request could not be read"}
	}
	writeProblem(w, be.status, be.code, be.detail)
}

// writeRefusal is writeBodyError that logs what the caller is not shown
// (the cause of a refusal, or an error that is not one) with the request
// id the answer carries.
func (s *Server) writeRefusal(w http.ResponseWriter, r *http.Request, err error) {
	var be *bodyError
	var ce *causedError
	switch {
	case errors.As(err, &ce):
		s.log.Info("request refused", "request_id", requestID(w), "path", r.URL.Path, "status", ce.status, "err", ce.cause)
	case !errors.As(err, &be):
		s.log.Info("request refused", "request_id", requestID(w), "path", r.URL.Path, "err", err)
	}
	writeBodyError(w, err)
}

// apiDeclare is POST /api/v1/incidents.
func (s *Server) apiDeclare(w http.ResponseWriter, r *http.Request, p principal) {
	body, err := readBody(r)
	if err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	var v struct {
		Title    string `json:"title"`
		Severity string `json:"severity"`
	}
	if err := decodeBody(body, &v); err != nil {
		s.writeRefusal(w, r, err)
		return
	}
	if err := required("title", strings.TrimSpace(v.Title)); err != nil {
		writeBodyError(w, err)
		return
	}
	if err := checkField("title", strings.TrimSpace(v.Title), incident.MaxTitle, false); err != nil {
		writeBodyError(w, err)
		return
	}
	key, ok := s.idempotencyKey(w, r)
	if !ok {
		return
	}
	c := incident.Command{
		Tenant: p.Tenant, Actor: p.Name, At: s.cfg.Now().UTC(), Kind: incident.Declare,
		Title: v.Title, Severity: strings.TrimSpace(v.Severity),
		Source:   incident.Source{Kind: incident.FromDashboard},
		Incident: incident.APIIncidentID(p.Tenant, key), ID: incident.CommandIDFor(p.Tenant, key),
	}
	s.apiSubmit(w, r, c, key)
}

// apiWrite returns the handler of one POST /api/v1/incidents/{id}/PATH.
func (s *Server) apiWrite(spec apiWrite) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		id := mux.Vars(r)["id"]
		body, err := readBody(r)
		if err != nil {
			s.writeRefusal(w, r, err)
			return
		}
		c := incident.Command{Incident: id, Tenant: p.Tenant, Actor: p.Name, At: s.cfg.Now().UTC(), Kind: spec.kind}
		if spec.fill != nil {
			c, err = spec.fill(body, c)
		} else {
			err = decodeBody(body, &struct{}{})
		}
		if err != nil {
			s.writeRefusal(w, r, err)
			return
		}
		if !validIncidentID(id) {
			writeProblem(w, http.StatusNotFound, CodeNotFound, "no incident "+id)
			return
		}
		// Another tenant's incident is answered like an unknown one, and
		// nothing is produced.
		if t, ok := s.tracker.incident(id); ok && t.State.Declared && t.State.Tenant != p.Tenant {
			writeProblem(w, http.StatusNotFound, CodeNotFound, "no incident "+id)
			return
		}
		key, ok := s.idempotencyKey(w, r)
		if !ok {
			return
		}
		c.ID = incident.CommandIDFor(p.Tenant, key)
		s.apiSubmit(w, r, c, key)
	}
}

// apiSubmit produces c, whose id derives from key, and answers: 202 once
// in the log, or with ?wait the outcome (200 applied, 404/409/422 rejected,
// 202 if not known in time); 503 log_unavailable when it is known not to
// be in the log, 504 outcome_unknown when it may be. The command carries
// the fingerprint of its request, so that its id (the Idempotency-Key's)
// reused for another request is refused, 422 idempotency_key_reused: here
// at once when the tracker knows the id's outcome, else by the processor.
func (s *Server) apiSubmit(w http.ResponseWriter, r *http.Request, c incident.Command, key string) {
	wait, err := s.parseWait(r)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	c.Fingerprint = incident.Fingerprint(c)
	if o, ok := s.tracker.outcome(c.ID); ok && !o.answers(c) {
		writeRejection(w, c, keyReused())
		return
	}
	if err := s.submit(r.Context(), "api", c); err != nil {
		s.writeSubmitError(w, c, key, err)
		return
	}
	w.Header().Set("Location", "/api/v1/incidents/"+c.Incident)
	res := WriteResult{IncidentID: c.Incident, CommandID: c.ID, Status: "accepted"}
	if wait <= 0 {
		writeJSON(w, http.StatusAccepted, res)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	o, ok := s.tracker.wait(ctx, c)
	if !ok {
		res.Note = fmt.Sprintf("the command is in the log; its outcome was not known within %v", wait)
		writeJSON(w, http.StatusAccepted, res)
		return
	}
	if o.Rejection != nil {
		writeRejection(w, c, o.Rejection)
		return
	}
	res.Status, res.FromVersion, res.Version = "applied", o.From, o.To
	if t, ok := s.tracker.incident(c.Incident); ok && t.Complete && t.State.Tenant == c.Tenant && t.State.Version >= o.To {
		j := incidentJSON(t.State)
		res.Incident = &j
	}
	writeJSON(w, http.StatusOK, res)
}

func writeRejection(w http.ResponseWriter, c incident.Command, r *incident.Rejection) {
	writeProblemDoc(w, Problem{
		Status: rejectionStatus(r.Code), Code: string(r.Code),
		Title: "command rejected", Detail: r.Reason, IncidentID: c.Incident, CommandID: c.ID,
	})
}

// parseWait reads ?wait=DURATION ("2s", "500ms"), capped at MaxWait.
func (s *Server) parseWait(r *http.Request) (time.Duration, error) {
	if r.URL.RawQuery == "" {
		return 0, nil // the usual case, without parsing an empty query
	}
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, &bodyError{http.StatusBadRequest, CodeInvalidField, fmt.Sprintf("wait=%q: want a duration such as 2s (at most %v)", v, s.cfg.MaxWait)}
	}
	return min(d, s.cfg.MaxWait), nil
}

// idempotencyKey returns the request's Idempotency-Key, or a fresh one
// the server generates for a request without one, and echoes it in the
// answer's Idempotency-Key header: a retry with it is the same command
// whatever the first answer was. It answers 400 for an unusable key, and
// 503 when there is no randomness for a fresh one (nothing was produced).
func (s *Server) idempotencyKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		rnd, err := s.random()
		if err != nil {
			s.log.Error("read randomness for an idempotency key", "err", err)
			writeUnavailable(w, s.cfg.RetryAfter, CodeLogUnavailable, "no fresh id could be made; nothing was accepted")
			return "", false
		}
		k = generatedKeyPrefix + hex.EncodeToString(rnd[:])
		w.Header().Set("Idempotency-Key", k)
		return k, true
	}
	ok := len(k) <= maxIdempotencyKey
	for _, c := range k {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			ok = false
		}
	}
	if !ok {
		writeProblem(w, http.StatusBadRequest, CodeInvalidField, fmt.Sprintf("Idempotency-Key must be 1 to %d printable ASCII characters", maxIdempotencyKey))
		return "", false
	}
	w.Header().Set("Idempotency-Key", k)
	return k, true
}

// generatedKeyPrefix starts the Idempotency-Key the server makes for a write
// that came without one.
const generatedKeyPrefix = "srv-"

// writeSubmitError answers a write whose command submit could not confirm.
// Both answers carry the command id, the incident id and the key to retry
// with, and Retry-After; neither shows the producer's error (it is logged).
func (s *Server) writeSubmitError(w http.ResponseWriter, c incident.Command, key string, err error) {
	setRetryAfter(w, s.cfg.RetryAfter)
	p := Problem{IncidentID: c.Incident, CommandID: c.ID, IdempotencyKey: key}
	retry := "Retry with the same Idempotency-Key"
	if key == "" {
		retry = "A retry of the same request is the same command"
	}
	if errors.Is(err, errOutcomeUnknown) {
		p.Status, p.Code, p.Title = http.StatusGatewayTimeout, CodeOutcomeUnknown, "outcome unknown"
		p.Detail = "the command was sent to the command log (Kafka), which did not acknowledge it in time: " +
			"it may still be applied. " + retry + ": it is applied at most once."
	} else {
		p.Status, p.Code = http.StatusServiceUnavailable, CodeLogUnavailable
		p.Detail = "the command log (Kafka) is unavailable; the command is not in the log and will not be applied. " + retry + "."
	}
	writeProblemDoc(w, p)
}

func (s *Server) random() ([16]byte, error) {
	var b [16]byte
	_, err := io.ReadFull(s.cfg.Random, b[:])
	return b, err
}

// validIncidentID is the shape of every incident id: a short prefix and
// hex; anything else cannot be an incident.
func validIncidentID(id string) bool {
	if len(id) < 4 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// apiHandler serves an authenticated API request on behalf of p.
type apiHandler func(w http.ResponseWriter, r *http.Request, p principal)

// requireToken authenticates every /api/v1 request but the OpenAPI
// document, and hands the principal to next (no copy of the request to
// carry it in a context).
func (s *Server) requireToken(next apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := authenticate(s.cfg.Tokens, r)
		if !ok {
			if !s.authFailed(w, r) {
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="incidentd"`)
			writeProblem(w, http.StatusUnauthorized, CodeUnauthorized, "a valid bearer API token is required (Authorization: Bearer TOKEN)")
			return
		}
		if ok, after := s.tokenLimits.take(p.Name); !ok {
			writeRateLimited(w, after, "this API token sent more requests than its rate limit allows")
			return
		}
		next(w, r, p)
	})
}
