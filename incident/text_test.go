package incident_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/incidentd/incidentd/incident"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		name      string
		s         string
		multiline bool
		want      string // "" = accepted, else a part of the reason
	}{
		{"ascii at the limit", strings.Repeat("a", 200), false, ""},
		{"ascii over the limit", strings.Repeat("a", 201), false, "longer than 200 characters"},
		{"two-byte characters at the limit", strings.Repeat("é", 200), false, ""},
		{"three-byte characters at the limit", strings.Repeat("障", 200), false, ""},
		{"four-byte characters over the limit", strings.Repeat("🔥", 201), false, "longer than 200 characters"},
		{"a literal replacement character", "a\uFFFDb", false, ""},
		{"invalid UTF-8", "a\xffb", false, "not valid UTF-8"},
		{"bell", "a\ab", false, "control character (U+0007)"},
		{"NUL", "a\x00b", false, "control character (U+0000)"},
		{"DEL", "a\x7fb", false, "control character (U+007F)"},
		{"C1 control", "a\u0085b", false, "control character (U+0085)"},
		{"line feed in a line", "a\nb", false, "control character (U+000A)"},
		{"line feed in a note", "a\r\nb\tc", true, ""},
		{"escape in a note", "a\x1b[31mb", true, "control character (U+001B)"},
		{"right-to-left override", "invoice\u202Efdp.exe", false, "bidirectional formatting character (U+202E)"},
		{"left-to-right embedding", "a\u202Ab", true, "(U+202A)"},
		{"first isolate", "a\u2068b", false, "(U+2068)"},
		{"pop isolate", "a\u2069b", false, "(U+2069)"},
		{"right-to-left mark is a mark, not an override", "שלום\u200F abc", false, ""},
		{"arabic text", "انقطاع الخدمة", false, ""},
	} {
		check := incident.CheckLine
		if tc.multiline {
			check = incident.CheckText
		}
		err := check(tc.s, 200)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestDecideCountsCharacters checks the model applies the same rule: a
// title of 200 three-byte characters is a title; a bidi override is not.
func TestDecideCountsCharacters(t *testing.T) {
	p := incident.DefaultPolicy()
	declare := func(title string) incident.Decision {
		return incident.Decide(p, incident.State{}, incident.Command{
			ID: "d", Incident: "i1", Tenant: "t1", At: base, Kind: incident.Declare, Title: title,
			Source: incident.Source{Kind: incident.FromDashboard},
		}, nil)
	}
	if d := declare(strings.Repeat("障", incident.MaxTitle)); len(d.Events) != 1 || d.Events[0].Kind != incident.Declared {
		t.Fatalf("a 200-character title of 600 bytes: %+v", d.Events)
	}
	for _, bad := range []string{strings.Repeat("障", incident.MaxTitle+1), "pay \u202Eyap", "line\nbreak"} {
		d := declare(bad)
		if len(d.Events) != 1 || d.Events[0].Rejection == nil || d.Events[0].Rejection.Code != incident.CodeInvalidTitle {
			t.Errorf("title %q: %+v, want an invalid_title rejection", bad, d.Events)
		}
	}
}

// FuzzCheckText checks the text rule against its definition: what it
// accepts is valid UTF-8 of at most max characters without control or
// bidirectional formatting characters (a multi-line text may hold line
// feeds, carriage returns and tabs), and what CheckLine accepts CheckText
// accepts too.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "db down", "a\u202Eb", "a\nb", "\x00", "\xff", strings.Repeat("é", 10), "a\u2069", "\u200F"} {
		f.Add(s)
	}
	const max = 8
	f.Fuzz(func(t *testing.T, s string) {
		line, text := incident.CheckLine(s, max), incident.CheckText(s, max)
		if line == nil && text != nil {
			t.Fatalf("%q: a line but not a text: %v", s, text)
		}
		for _, c := range []struct {
			err       error
			multiline bool
		}{{line, false}, {text, true}} {
			if c.err != nil {
				continue
			}
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
				t.Fatalf("%q accepted (multiline %v): invalid or longer than %d", s, c.multiline, max)
			}
			for _, r := range s {
				ok := !unicode.IsControl(r) || c.multiline && (r == '\n' || r == '\r' || r == '\t')
				if !ok || incident.BidiControl(r) {
					t.Fatalf("%q accepted (multiline %v) with %U", s, c.multiline, r)
				}
			}
		}
	})
}
