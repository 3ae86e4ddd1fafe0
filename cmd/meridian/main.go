// Command meridian is Meridian's one binary: the authoritative DNS server,
// the regional proxy, the prober, the all-in-one dev mode and the operator
// tools, as subcommands. It only wires packages together; see doc.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "meridian:", err)
	}
	os.Exit(exitCode(err))
}

// errUsage is returned after a usage message has been printed.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dns", "serve the delegated zones over DNS, steered by the policy in etcd", runDNS},
		{"proxy", "serve HTTP for one region, balancing over its pools", runProxy},
		{"probe", "health-check every region's proxies and report to etcd", runProbe},
		{"dev", "run everything on loopback with an embedded etcd and a demo policy", runDev},
		{"policy", "validate, apply, get, list or delete policy keys", runPolicy},
		{"explain", "show how a name is steered for a client, and why", runExplain},
		{"dnssec", "generate DNSSEC signing keys, print DS records for the parent zone", runDNSSEC},
		{"version", "print the version", runVersion},
	}
}

// run is main without the process: tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "meridian: unknown command %q\n\n", args[0])
	usage(stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: meridian <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'meridian <command> -h' for the flags of a command. Every flag has an")
	fmt.Fprintln(w, "environment twin: --etcd-endpoints is MERIDIAN_ETCD_ENDPOINTS.")
}
