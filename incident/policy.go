package incident

import (
	"fmt"
	"strings"
)

// Limits on user-provided text, in characters (runes); see CheckLine.
const (
	MaxTitle  = 200
	MaxNote   = 4000
	MaxPerson = 200
)

// Policy is the configurable part of the rules: which severity levels exist.
type Policy struct {
	// Severities are the levels, most severe first. Declare without a
	// severity takes the last (least severe) level.
	Severities []string
}

// DefaultPolicy returns the default policy: SEV1 (worst) to SEV4.
func DefaultPolicy() Policy {
	return Policy{Severities: []string{"SEV1", "SEV2", "SEV3", "SEV4"}}
}

// Validate reports a policy that Decide cannot work with.
func (p Policy) Validate() error {
	if len(p.Severities) == 0 {
		return fmt.Errorf("incident: policy has no severity levels")
	}
	seen := map[string]bool{}
	for _, s := range p.Severities {
		if s == "" || strings.TrimSpace(s) != s {
			return fmt.Errorf("incident: severity level %q is empty or padded", s)
		}
		if seen[s] {
			return fmt.Errorf("incident: severity level %q listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// validSeverity reports whether s is one of the policy's levels.
func (p Policy) validSeverity(s string) bool {
	for _, l := range p.Severities {
		if l == s {
			return true
		}
	}
	return false
}

// ParseSeverities parses a comma-separated list of levels, as given in
// configuration ("SEV1,SEV2,SEV3,SEV4").
func ParseSeverities(list string) (Policy, error) {
	var p Policy
	for _, s := range strings.Split(list, ",") {
		p.Severities = append(p.Severities, strings.TrimSpace(s))
	}
	return p, p.Validate()
}
