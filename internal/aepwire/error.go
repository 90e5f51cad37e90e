package aepwire

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Error is an error response of the API. Platform services answer with RFC 7807 problem details
// ({type, title, status, detail}); the API gateway answers with {error_code, message}. Both decode
// into Error, and Error encodes as problem details.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Type is the problem type URI, http://ns.adobe.com/aep/errors/<code>-<status> for service errors.
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	// Code is the AEP error code: the gateway's error_code, or the service code inside Type.
	Code string `json:"-"`
	// RequestID is the x-request-id of the response, when one is known.
	RequestID string `json:"-"`
	// Hint says what to do about the error, when the client knows.
	Hint string `json:"-"`
}

// errorTypePrefix begins the problem types of AEP's services; the Profile and Segmentation
// services write it with https (errorTypePrefixTLS).
const (
	errorTypePrefix    = "http://ns.adobe.com/aep/errors/"
	errorTypePrefixTLS = "https://ns.adobe.com/aep/errors/"
)

// NewError returns a service error with an AEP-style code such as "CAT-1404".
func NewError(status int, code, title, detail string) *Error {
	return &Error{
		Status: status,
		Type:   fmt.Sprintf("%s%s-%d", errorTypePrefix, code, status),
		Title:  title,
		Detail: detail,
		Code:   code,
	}
}

// Errorf is NewError with a formatted detail.
func Errorf(status int, code, title, format string, args ...any) *Error {
	return NewError(status, code, title, fmt.Sprintf(format, args...))
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Title != "" {
		b.WriteString(": ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request id %s]", e.RequestID)
	}
	if e.Hint != "" {
		b.WriteString(". ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// StatusOf returns the HTTP status of err when it is, or wraps, an *Error, and 0 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsNotFound reports whether err is a 404 from the API or the engine.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// DecodeError builds the error of a response with the given status and body. It understands
// problem details, gateway errors and 429 bodies, and falls back to the status alone. The
// Profile and Segmentation services add to their problem details the reasons, as
// {"errors": {"400": [{"code", "message"}]}}, and the request's id (requestId), which stands in
// for an x-request-id header that did not come.
func DecodeError(status int, body []byte, requestID string) *Error {
	e := &Error{Status: status, Title: http.StatusText(status), RequestID: requestID}
	var probe struct {
		Type      string              `json:"type"`
		Title     string              `json:"title"`
		Detail    string              `json:"detail"`
		ErrorCode string              `json:"error_code"`
		Message   string              `json:"message"`
		RequestID string              `json:"requestId"`
		Errors    map[string][]reason `json:"errors"`
	}
	if json.Unmarshal(body, &probe) != nil {
		if text := strings.TrimSpace(string(body)); text != "" && len(text) < 500 {
			e.Detail = text
		}
		return e
	}
	if e.RequestID == "" {
		e.RequestID = probe.RequestID
	}
	switch {
	case probe.ErrorCode != "":
		e.Code, e.Title = probe.ErrorCode, probe.Message
	case probe.Type != "" || probe.Title != "":
		e.Type, e.Title, e.Detail = probe.Type, probe.Title, probe.Detail
		e.Code = codeOfType(probe.Type)
	case probe.Message != "":
		e.Title = probe.Message
	}
	e.Detail = withReasons(e.Detail, e.Title, probe.Errors)
	return e
}

// reason is an entry of the errors map of a Profile or Segmentation problem. Its code, a number
// or a string, is not read.
type reason struct {
	Message string `json:"message"`
}

// withReasons adds to detail the messages of an errors map, in the order of their statuses,
// each once, leaving out those that repeat the title or the detail.
func withReasons(detail, title string, reasons map[string][]reason) string {
	said := map[string]bool{strings.TrimSpace(title): true, strings.TrimSpace(detail): true}
	parts := []string{}
	if detail != "" {
		parts = append(parts, detail)
	}
	for _, status := range slices.Sorted(maps.Keys(reasons)) {
		for _, r := range reasons[status] {
			m := strings.TrimSpace(r.Message)
			if m != "" && !said[m] {
				said[m] = true
				parts = append(parts, m)
			}
		}
	}
	return strings.Join(parts, "; ")
}

// codeOfType extracts the code of a problem type such as
// http://ns.adobe.com/aep/errors/CAT-1404-404 (or https://...).
func codeOfType(t string) string {
	rest, ok := strings.CutPrefix(t, errorTypePrefix)
	if !ok {
		rest, ok = strings.CutPrefix(t, errorTypePrefixTLS)
	}
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(rest, '-'); i > 0 {
		return rest[:i]
	}
	return rest
}

// UnavailableError is a call that got no answer it could use from the platform, after the
// client's retries: the platform could not be reached, broke the connection, or answered only
// that it could not serve now (429, 5xx). Sent says whether the request may have reached it.
type UnavailableError struct {
	Err  error
	Sent bool
}

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err is a call that got no usable answer from the platform, which
// a later call may get.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}

// NotReached reports whether err is a call that never reached the platform, so that the platform
// surely did nothing.
func NotReached(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u) && !u.Sent
}

// FormatBytes writes a size limit as people configure it: in the largest unit that divides it.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
