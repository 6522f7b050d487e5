package incident

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Text rules for every user-supplied string (titles, notes, names): one
// place, used by the model (Decide) and by ingress before anything reaches
// the log, for the API and Slack alike.
//
// Lengths count characters (runes), not bytes: a 200-character title in
// Greek or Japanese is as long as one in English. Control characters are
// refused (a note keeps its line breaks and tabs), and so are the
// bidirectional embedding, override and isolate characters (U+202A to
// U+202E, U+2066 to U+2069), which make text read differently from what it
// is ("Trojan Source").

// TextError is a user-supplied text that breaks the rules. Its message is
// written for the person who typed it.
type TextError struct {
	Reason string // "is longer than 200 characters", "contains a control character (U+0007)"
}

func (e *TextError) Error() string { return e.Reason }

// CheckLine checks one line of text (a title, a name): valid UTF-8, at most
// max characters, no control or bidirectional formatting characters.
// Emptiness is the caller's to judge.
func CheckLine(s string, max int) error { return checkText(s, max, false) }

// CheckText is CheckLine for text of several lines (a note): line feeds,
// carriage returns and tabs are allowed.
func CheckText(s string, max int) error { return checkText(s, max, true) }

func checkText(s string, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return &TextError{"is not valid UTF-8 text"}
	}
	n := 0
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
		case unicode.IsControl(r):
			return &TextError{fmt.Sprintf("contains a control character (%U)", r)}
		case BidiControl(r):
			return &TextError{fmt.Sprintf("contains a bidirectional formatting character (%U)", r)}
		}
		n++
	}
	if n > max {
		return &TextError{fmt.Sprintf("is longer than %d characters", max)}
	}
	return nil
}

// BidiControl reports whether r is one of the bidirectional embedding,
// override or isolate characters (U+202A to U+202E, U+2066 to U+2069).
func BidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}
