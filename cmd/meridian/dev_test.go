package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
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
	c := devConfig{
		etcdURL:     fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		dns:         fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)),
		admin:       fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		dataDir:     t.TempDir(),
		proxyPort:   freePort(t),
		backendBase: 20000 + rand.IntN(40000),
		self:        "MERIDIAN_TEST_MAIN=1 " + exe,
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devMain(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dev mode: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		select {
		case err := <-done:
			t.Fatalf("dev mode exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cheat sheet within 30s; output:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a deadline-bounded wait
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
