package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/meridian-gslb/meridian/gslb/store"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// newFlagSet returns a flag set whose usage goes to stderr and whose flags
// may also be set from the environment: --etcd-endpoints reads
// MERIDIAN_ETCD_ENDPOINTS when the flag is not given.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("meridian "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// envName is the environment twin of a flag.
func envName(flagName string) string {
	return "MERIDIAN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse parses args, allowing flags after positional arguments
// ("explain www.gslb.example --client 192.0.2.1"), then fills unset flags
// from their environment twins. It returns the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errUsage
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	return pos, errors.Join(errs...)
}

// logFlags are the logging flags every server command has.
type logFlags struct {
	format, level string
}

func (l *logFlags) register(fs *flag.FlagSet, defFormat string) {
	fs.StringVar(&l.format, "log-format", defFormat, "log format: json or text")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", l.level, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch l.format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json or text", l.format)
}

// etcdFlags say how to reach etcd. Secrets come from files, never flags.
type etcdFlags struct {
	endpoints    string
	prefix       string
	cert, key    string
	ca           string
	user         string
	passwordFile string
}

func (e *etcdFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.endpoints, "etcd-endpoints", "127.0.0.1:2379", "comma-separated etcd endpoints (https:// for TLS)")
	fs.StringVar(&e.prefix, "etcd-prefix", "/meridian/", "keyspace prefix")
	fs.StringVar(&e.cert, "etcd-cert", "", "client certificate file for etcd TLS")
	fs.StringVar(&e.key, "etcd-key", "", "client key file for etcd TLS")
	fs.StringVar(&e.ca, "etcd-ca", "", "CA bundle file to verify etcd's certificate")
	fs.StringVar(&e.user, "etcd-user", "", "etcd user name (auth)")
	fs.StringVar(&e.passwordFile, "etcd-password-file", "", "file holding the etcd password")
}

func (e *etcdFlags) normPrefix() string {
	p := e.prefix
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// client builds an etcd client (through store.Dial, which caps gRPC's
// reconnect backoff). It does not wait for etcd: a server starts from its
// state file when etcd is down and connects later.
func (e *etcdFlags) client(logger *slog.Logger) (*clientv3.Client, error) {
	cfg := store.ClientConfig{Endpoints: strings.Split(e.endpoints, ","), Logger: logger}
	if e.cert != "" || e.key != "" || e.ca != "" || anyHTTPS(cfg.Endpoints) {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.cert != "" || e.key != "" {
			pair, err := tls.LoadX509KeyPair(e.cert, e.key)
			if err != nil {
				return nil, fmt.Errorf("etcd client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		if e.ca != "" {
			pem, err := os.ReadFile(e.ca)
			if err != nil {
				return nil, fmt.Errorf("etcd CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcd CA %s: no certificate found", e.ca)
			}
			tc.RootCAs = pool
		}
		cfg.TLS = tc
	}
	if e.user != "" {
		if e.passwordFile == "" {
			return nil, errors.New("--etcd-user needs --etcd-password-file")
		}
		pw, err := os.ReadFile(e.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("etcd password: %w", err)
		}
		cfg.Username, cfg.Password = e.user, strings.TrimRight(string(pw), "\r\n")
	}
	return store.Dial(cfg)
}

func anyHTTPS(eps []string) bool {
	for _, e := range eps {
		if strings.HasPrefix(e, "https://") {
			return true
		}
	}
	return false
}
