// Command incidentd is the one binary of incidentd: a subcommand per
// service, "run" for all of them in one process on an embedded broker, and
// "broker" for the embedded Kafka-protocol broker alone.
//
// Every flag can also be set through the environment: -kafka.brokers is
// INCIDENTD_KAFKA_BROKERS, -ingress.addr is INCIDENTD_INGRESS_ADDR. A flag
// given on the command line wins over the environment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal exits at once.
		<-ctx.Done()
		stop()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(os.Stderr, "incidentd: second signal, exiting now")
		os.Exit(1)
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// subcommand is one "incidentd NAME" command.
type subcommand struct {
	name string
	help string
	// setup registers the command's flags and returns the function that
	// runs it once the flags are parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env) error
}

func subcommands() []subcommand {
	cmds := []subcommand{
		{"run", "run every part of incidentd in one process, on the embedded broker unless -kafka.brokers is set", setupRunAll},
		{"broker", "serve the embedded Kafka-protocol broker (kfake) with a persistent data directory", setupBroker},
		{"topics", "create incidentd's topics (or check their partition counts) and exit", setupTopics},
		{"slack-mention", "send a signed Slack app_mention (\"@fire TEXT\") to a local ingress running the dev workspace", setupSlackMention},
	}
	for _, s := range services() {
		cmds = append(cmds, subcommand(s))
	}
	cmds = append(cmds,
		subcommand{"rebuild", "rebuild a view from the log: 'rebuild processor' or 'rebuild clickhouse'", setupRebuild},
		subcommand{"events", "print the events (or -events.topic=commands) of the log as JSON lines, read committed", setupEvents},
		subcommand{"verify", "compare a view with the fold of the log, print the differences, exit 1 on any: 'verify clickhouse' or 'verify notifier'", setupVerify},
		subcommand{"slackfake", "test/dev tool: serve the Slack Web API stand-in, its API URL on the first line of stdout", setupSlackFake},
		subcommand{"slack-sign", "test/dev tool: sign the body on stdin as Slack does, print timestamp and signature", setupSlackSign})
	return cmds
}

// run is main without the process: it returns the exit code, so tests
// start the application in-process and stop it by cancelling ctx. Signals
// are handled only in main.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	var cmd *subcommand
	for _, c := range subcommands() {
		if c.name == args[0] {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "incidentd: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("incidentd "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	common := commonFlags(fs)
	runFn := cmd.setup(fs)
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := applyEnv(fs, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "incidentd: %v\n", err)
		return 2
	}
	e, err := common.env(cmd.name, positional, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "incidentd: %v\n", err)
		return 2
	}
	if err := runFn(ctx, e); err != nil && !errors.Is(err, context.Canceled) {
		e.Logger.Error("exiting", "err", err)
		return 1
	}
	return 0
}

// parseInterspersed parses flags wherever they stand among the arguments
// ("rebuild clickhouse -projector.database=x" as well as "rebuild
// -projector.database=x clickhouse") and returns the other arguments in
// order. Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: incidentd COMMAND [flags]\n\ncommands:")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\n'incidentd COMMAND -h' lists a command's flags; every flag is also an INCIDENTD_* environment variable.")
}

// envName is the environment variable that sets a flag.
func envName(flagName string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "INCIDENTD_" + strings.ToUpper(r.Replace(flagName))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, if that is set.
func applyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		if given[n] {
			continue
		}
		if v, ok := lookup(envName(n)); ok {
			if err := fs.Set(n, v); err != nil {
				return fmt.Errorf("%s=%q: %w", envName(n), v, err)
			}
		}
	}
	return nil
}

// newLogger builds the one logger of the process.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log.level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log.format %q: want text or json", format)
}
