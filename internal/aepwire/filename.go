package aepwire

import (
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFileNameBytes is the longest name of a batch file, as most file systems allow.
const MaxFileNameBytes = 255

// CheckFileName refuses a batch file name that is not a plain file name, with a 400 that names
// the rule it breaks: the engine stores files under their names, the server hears them in URLs,
// and both apply this one rule.
func CheckFileName(name string) error {
	bad := func(rule string) error {
		return Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"file name %q is not valid: %s; use a plain name such as profiles.json", name, rule)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > MaxFileNameBytes:
		return bad(fmt.Sprintf("it is %d bytes long, and a name may have at most %d", len(name), MaxFileNameBytes))
	case !utf8.ValidString(name):
		return bad("it is not valid UTF-8")
	case strings.ContainsAny(name, `/\`):
		return bad("it holds a path separator (/ or \\)")
	case strings.HasPrefix(name, "."):
		return bad("it starts with a dot")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return bad("it holds a control character (such as NUL or a line break)")
	}
	return nil
}
