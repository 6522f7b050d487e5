package kafka_test

import (
	"strings"
	"testing"

	"github.com/incidentd/incidentd/deploy"
	"github.com/incidentd/incidentd/internal/kafka"
)

func TestParseTopicSpecsDeploy(t *testing.T) {
	specs, err := kafka.ParseTopicSpecs(deploy.Topics, 6)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"commands":    "delete",
		"events":      "delete",
		"changelog":   "compact",
		"deadletters": "delete",
	}
	if len(specs) != len(want) {
		t.Fatalf("got %d specs, want %d: %+v", len(specs), len(want), specs)
	}
	for _, s := range specs {
		policy, ok := want[s.Suffix]
		if !ok {
			t.Errorf("unexpected topic %q", s.Suffix)
			continue
		}
		if s.Partitions != 6 {
			t.Errorf("%s: partitions %d, want 6", s.Suffix, s.Partitions)
		}
		if got := s.Configs["cleanup.policy"]; got != policy {
			t.Errorf("%s: cleanup.policy %q, want %q", s.Suffix, got, policy)
		}
	}
}

func TestParseTopicSpecsErrors(t *testing.T) {
	const rest = "events P\nchangelog P\ndeadletters 1\n"
	for _, tc := range []struct {
		name, text string
		partitions int32
		want       string
	}{
		{"one field", "commands\n" + rest, 6, `line 1 "commands": 1 fields`},
		{"four fields", "commands P a=b c=d\n" + rest, 6, "4 fields"},
		{"bad partitions", "commands x\n" + rest, 6, `partitions "x": want "P" or a positive integer`},
		{"zero partitions", "commands 0\n" + rest, 6, `partitions "0"`},
		{"config without value", "commands P retention.ms\n" + rest, 6, `config "retention.ms": want key=value`},
		{"empty config key", "commands P =1\n" + rest, 6, `config "=1"`},
		{"duplicate config", "commands P a=1,a=2\n" + rest, 6, `config "a" set twice`},
		{"bad suffix", "comm/ands P\n" + rest, 6, `suffix "comm/ands"`},
		{"duplicate topic", "commands P\n# c\ncommands P\n" + rest, 6, `line 3: topic "commands" already defined on line 1`},
		{"missing topic", "commands P\nevents P\nchangelog P\n", 6, `topic "deadletters" not defined`},
		{"not co-partitioned", "commands P\nevents 3\n" + "changelog P\ndeadletters 1\n", 6, "commands, events and changelog must have the same partition count"},
		{"no partitions", "commands P\n" + rest, 0, "partitions 0, want at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := kafka.ParseTopicSpecs(tc.text, tc.partitions)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "kafka: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseTopicSpecsLiteralPartitions(t *testing.T) {
	specs, err := kafka.ParseTopicSpecs("commands P\nevents P # trailing\n\nchangelog P c=1\ndeadletters 2\n", 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := specs[3]; got.Suffix != "deadletters" || got.Partitions != 2 {
		t.Fatalf("deadletters spec = %+v, want 2 partitions", got)
	}
	if got := specs[2].Configs["c"]; got != "1" {
		t.Fatalf("changelog config c = %q, want 1", got)
	}
}

func TestTopicNames(t *testing.T) {
	cfg := kafka.Config{Brokers: []string{"b:9092"}}
	cfg.Defaults()
	got := cfg.Topics()
	want := kafka.Topics{
		Commands:    "incidentd.commands",
		Events:      "incidentd.events",
		Changelog:   "incidentd.changelog",
		DeadLetters: "incidentd.deadletters",
	}
	if got != want {
		t.Fatalf("topics = %+v, want %+v", got, want)
	}
}
