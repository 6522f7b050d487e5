package kafka

import (
	"bufio"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/incidentd/incidentd/deploy"
)

// Topic suffixes, as deploy/topics.txt names them.
const (
	SuffixCommands    = "commands"
	SuffixEvents      = "events"
	SuffixChangelog   = "changelog"
	SuffixDeadLetters = "deadletters"
)

// coPartitioned are the suffixes that must share one partition count.
var coPartitioned = []string{SuffixCommands, SuffixEvents, SuffixChangelog}

// Topics are the full names of incidentd's topics under one prefix.
type Topics struct {
	Commands    string
	Events      string
	Changelog   string
	DeadLetters string
}

// NewTopics returns the topic names under prefix (used as is; Config's
// default prefix is applied by Config.Defaults, not here).
func NewTopics(prefix string) Topics {
	return Topics{
		Commands:    prefix + SuffixCommands,
		Events:      prefix + SuffixEvents,
		Changelog:   prefix + SuffixChangelog,
		DeadLetters: prefix + SuffixDeadLetters,
	}
}

// TopicSpec is one topic definition of deploy/topics.txt.
type TopicSpec struct {
	Suffix     string
	Partitions int32
	Configs    map[string]string
}

// Name returns the spec's topic name under prefix.
func (s TopicSpec) Name(prefix string) string { return prefix + s.Suffix }

// coPartitioned reports whether the topic must have the same partition
// count as commands, events and changelog.
func (s TopicSpec) coPartitioned() bool { return slices.Contains(coPartitioned, s.Suffix) }

// ParseTopicSpecs parses topic definitions in deploy/topics.txt's format:
// one topic per line, "suffix partitions configs", where partitions is "P"
// (replaced by the given partition count) or a positive integer, and configs
// is an optional comma-separated list of key=value. Blank lines and
// everything after '#' are ignored.
//
// It also checks that every topic incidentd uses is defined and that
// commands, events and changelog have the same partition count.
func ParseTopicSpecs(text string, partitions int32) ([]TopicSpec, error) {
	if partitions < 1 {
		return nil, fmt.Errorf("kafka: topic specs: partitions %d, want at least 1", partitions)
	}
	var specs []TopicSpec
	seen := map[string]int{} // suffix -> line
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		spec, err := parseTopicSpec(fields, partitions)
		if err != nil {
			return nil, fmt.Errorf("kafka: topic specs line %d %q: %w", n, strings.TrimSpace(line), err)
		}
		if prev, ok := seen[spec.Suffix]; ok {
			return nil, fmt.Errorf("kafka: topic specs line %d: topic %q already defined on line %d", n, spec.Suffix, prev)
		}
		seen[spec.Suffix] = n
		specs = append(specs, spec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kafka: topic specs: %w", err)
	}

	var copart []string
	for _, suffix := range []string{SuffixCommands, SuffixEvents, SuffixChangelog, SuffixDeadLetters} {
		if _, ok := seen[suffix]; !ok {
			return nil, fmt.Errorf("kafka: topic specs: topic %q not defined", suffix)
		}
	}
	counts := map[int32]bool{}
	for _, s := range specs {
		if s.coPartitioned() {
			counts[s.Partitions] = true
			copart = append(copart, fmt.Sprintf("%s=%d", s.Suffix, s.Partitions))
		}
	}
	if len(counts) > 1 {
		return nil, fmt.Errorf("kafka: topic specs: commands, events and changelog must have the same partition count, got %s", strings.Join(copart, " "))
	}
	return specs, nil
}

func parseTopicSpec(fields []string, partitions int32) (TopicSpec, error) {
	if len(fields) < 2 || len(fields) > 3 {
		return TopicSpec{}, fmt.Errorf("%d fields, want \"suffix partitions [configs]\"", len(fields))
	}
	spec := TopicSpec{Suffix: fields[0], Configs: map[string]string{}}
	if err := validTopicName(spec.Suffix); err != nil {
		return TopicSpec{}, fmt.Errorf("suffix %q: %w", spec.Suffix, err)
	}
	if fields[1] == "P" {
		spec.Partitions = partitions
	} else {
		p, err := strconv.ParseInt(fields[1], 10, 32)
		if err != nil || p < 1 {
			return TopicSpec{}, fmt.Errorf("partitions %q: want \"P\" or a positive integer", fields[1])
		}
		spec.Partitions = int32(p)
	}
	if len(fields) == 3 {
		for kv := range strings.SplitSeq(fields[2], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return TopicSpec{}, fmt.Errorf("config %q: want key=value", kv)
			}
			if _, dup := spec.Configs[k]; dup {
				return TopicSpec{}, fmt.Errorf("config %q set twice", k)
			}
			spec.Configs[k] = v
		}
	}
	return spec, nil
}

// specs returns deploy/topics.txt's definitions for cfg's partition count.
func specs(cfg Config) ([]TopicSpec, error) {
	return ParseTopicSpecs(deploy.Topics, cfg.Partitions)
}

// sortedKeys returns m's keys in order, for stable error messages.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
