package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/gslb"
	"github.com/meridian-gslb/meridian/gslb/store"
	"github.com/meridian-gslb/meridian/probes"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v += "+" + s.Value
			}
		}
		fmt.Fprintf(stdout, "meridian %s (%s)\n", v, bi.GoVersion)
		return nil
	}
	fmt.Fprintf(stdout, "meridian %s\n", v)
	return nil
}

// validators are the checks gslb cannot make itself: static records are
// parsed by the DNS server's parser, health checks by the probes package.
func validators() gslb.Validators {
	return gslb.Validators{
		Record: dnsserver.CheckRecord,
		Check: func(raw json.RawMessage) error {
			c, err := decodeCheck(raw)
			if err != nil {
				return err
			}
			return c.Validate()
		},
	}
}

// node is what every server command shares: a logger (each part adds its
// own component attribute), a metrics registry,
// an etcd client and the store that turns etcd into snapshots.
type node struct {
	logger *slog.Logger
	reg    *prometheus.Registry
	cli    *clientv3.Client
	store  *store.Store
	prefix string
}

type nodeFlags struct {
	etcd     etcdFlags
	log      logFlags
	admin    string
	stateDir string
}

func (n *nodeFlags) register(fs *flag.FlagSet, component, defAdmin string) {
	n.etcd.register(fs)
	n.log.register(fs, "json")
	fs.StringVar(&n.admin, "admin", defAdmin, "address of the admin HTTP server (/metrics, /healthz, /readyz); empty disables")
	fs.StringVar(&n.stateDir, "state-dir", "/var/lib/meridian", "directory for the on-disk copy of the last good state (used when etcd is down at start)")
}

// open builds the node; name makes the state file's name
// (<state-dir>/<name>.state.json), unique per instance on a host.
func (n *nodeFlags) open(name string, stderr io.Writer) (*node, error) {
	logger, err := n.log.logger(stderr)
	if err != nil {
		return nil, err
	}
	cli, err := n.etcd.client(logger.With("component", "etcd"))
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	reg := newRegistry()
	stateFile := ""
	if n.stateDir != "" {
		if err := os.MkdirAll(n.stateDir, 0o750); err != nil {
			cli.Close()
			return nil, fmt.Errorf("state dir: %w", err)
		}
		stateFile = filepath.Join(n.stateDir, name+".state.json")
	}
	st, err := store.New(store.Options{
		Client:     cli,
		Prefix:     n.etcd.normPrefix(),
		Validators: validators(),
		StateFile:  stateFile,
		Logger:     logger.With("component", "store"),
		Registerer: reg,
	})
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &node{logger: logger, reg: reg, cli: cli, store: st, prefix: n.etcd.normPrefix()}, nil
}

func (n *node) close() { n.cli.Close() }

// listenAdmin binds the admin address early, so a port clash is reported
// at start rather than after etcd answers.
func listenAdmin(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	return ln, nil
}

// waitReady blocks until the store has a first snapshot or ctx ends.
func waitReady(ctx context.Context, st *store.Store) error {
	select {
	case <-st.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// decodeCheck decodes a health check strictly, as the policy decoder does.
func decodeCheck(raw json.RawMessage) (probes.Check, error) {
	var c probes.Check
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	return c, nil
}
