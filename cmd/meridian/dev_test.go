package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/gslb"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freeUDPTCPPort finds a port free for both UDP and TCP on 127.0.0.1.
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		p := freePort(t)
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			u.Close()
			return p
		}
	}
	t.Fatal("no free UDP+TCP port")
	return 0
}

// TestCheatSheet runs `meridian dev` on free ports and pastes every
// command of the cheat sheet it prints into bash, checking what each one
// shows: the newcomer's first five minutes must work as printed.
func TestCheatSheet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole dev mode; not in -short")
	}
	for _, tool := range []string{"dig", "etcdctl", "curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make deps` (the cheat sheet uses it)", tool)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Ports are picked free and may be taken by another test before dev
	// mode binds them; a start that fails on a bind is tried again with
	// new ports. The backends' base stays below Linux's ephemeral range
	// (32768-60999), where outgoing connections would collide with it.
	var c devConfig
	var out *syncBuffer
	for attempt := 1; ; attempt++ {
		c = devConfig{
			etcdURL:     fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			dns:         fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)),
			admin:       fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			dataDir:     t.TempDir(),
			proxyPort:   freePort(t),
			backendBase: 10000 + rand.IntN(20000),
			self:        "MERIDIAN_TEST_MAIN=1 " + exe,
		}
		var err error
		out, err = startDev(t, c)
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("dev mode did not start in %d attempts; last: %v", attempt, err)
		}
		t.Logf("dev mode attempt %d: %v; again with other ports", attempt, err)
	}
	printed := out.String()
	policy, err := devPolicy(c)
	if err != nil {
		t.Fatal(err)
	}
	steps := cheatSheet(c, policy)
	ran := 0
	for _, s := range steps {
		if s.cmd == "" {
			continue
		}
		if !strings.Contains(printed, "  "+s.cmd+"\n") {
			t.Fatalf("step %q is not in the printed cheat sheet", s.cmd)
		}
		ran++
		// Health moves in seconds (probe interval 1s, fall 2): a step is
		// retried until it shows what it should, as a person would rerun it.
		var got string
		deadline := time.Now().Add(20 * time.Second)
		for {
			cmd := exec.Command("bash", "-c", s.cmd)
			b, _ := cmd.CombinedOutput()
			got = string(b)
			if strings.Contains(got, s.expect) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cheat sheet step\n  %s\nshows\n%s\nwant it to contain %q", s.cmd, got, s.expect)
			}
			time.Sleep(200 * time.Millisecond) // poll interval of a deadline-bounded wait
		}
		t.Logf("ok: %s", s.cmd)
	}
	if ran < 10 {
		t.Errorf("ran %d cheat sheet commands, want at least 10", ran)
	}
}

// startDev runs dev mode until the test ends and waits for its cheat
// sheet. It returns dev mode's error if it exits first.
func startDev(t *testing.T, c devConfig) (*syncBuffer, error) {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devMain(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), out) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		select {
		case err := <-done:
			cancel()
			if err == nil {
				err = errors.New("exited without an error before printing the cheat sheet")
			}
			return nil, err
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("no cheat sheet within 30s; output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a deadline-bounded wait
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev mode: %v", err)
		}
	})
	return out, nil
}

// TestDevSettled: the demo is settled only with every region's proxy
// heartbeating with all backends up and the prober's report up.
func TestDevSettled(t *testing.T) {
	regions := []devRegion{{name: "eu-west", addr: netip.MustParseAddr("127.0.0.11")}}
	base := map[string]string{
		"zones/gslb.example.": `{"nameservers": [{"name": "ns1.gslb.example.", "ipv4": ["127.0.0.1"]}]}`,
		"regions/eu-west":     `{"location": {"lat": 53.35, "lon": -6.26}, "proxies": ["127.0.0.11"]}`,
	}
	beat := func(healthy int) string {
		return fmt.Sprintf(`{"address": "127.0.0.11", "healthy_backends": %d, "total_backends": 2, "updated": "2026-11-22T00:00:00Z"}`, healthy)
	}
	probe := func(up bool) string {
		return fmt.Sprintf(`{"up": %v, "updated": "2026-11-22T00:00:00Z"}`, up)
	}
	for _, tc := range []struct {
		name string
		keys map[string]string
		want bool
	}{
		{"no health data", nil, false},
		{"heartbeat only", map[string]string{"status/proxies/eu-west/dev": beat(2)}, false},
		{"a backend down", map[string]string{"status/proxies/eu-west/dev": beat(1), "status/probes/dev/127.0.0.11": probe(true)}, false},
		{"prober sees it down", map[string]string{"status/proxies/eu-west/dev": beat(2), "status/probes/dev/127.0.0.11": probe(false)}, false},
		{"settled", map[string]string{"status/proxies/eu-west/dev": beat(2), "status/probes/dev/127.0.0.11": probe(true)}, true},
	} {
		keys := maps.Clone(base)
		maps.Copy(keys, tc.keys)
		entries := map[string]gslb.Entry{}
		for k, v := range keys {
			e, err := gslb.Decode(k, []byte(v), gslb.Validators{})
			if err != nil {
				t.Fatalf("%s: %s: %v", tc.name, k, err)
			}
			entries[e.Key.String()] = e
		}
		if got := devSettled(gslb.Build(entries, 1), regions); got != tc.want {
			t.Errorf("%s: devSettled = %v, want %v", tc.name, got, tc.want)
		}
	}
	if devSettled(nil, regions) {
		t.Error("devSettled(nil) = true")
	}
}
