package conformance

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// suiteTimeout bounds the whole script: it takes about 20 s once the
// Debian packages are installed, and installing them about a minute more.
const suiteTimeout = 5 * time.Minute

// TestConformance runs run.sh against a freshly built meridian and fails
// with the script's FAIL lines when any check fails.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers and clients in a network namespace; see conformance/README.md")
	}
	ctx, cancel := context.WithTimeout(t.Context(), suiteTimeout)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "meridian")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/meridian")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/meridian: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, "bash", "run.sh")
	cmd.Env = append(os.Environ(), "MERIDIAN_BIN="+bin)
	// Its own process group, stopped with SIGTERM so that the script's
	// trap stops every server it started (SIGKILL would orphan them).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	summary := lastLine(out.String())
	t.Logf("run.sh: %s in %s", summary, time.Since(start).Round(time.Second))
	if err == nil {
		return
	}
	// The failing checks with their commands and output, then the tail.
	var failed strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "FAIL"):
			in = true
		case strings.HasPrefix(line, "PASS"), strings.HasPrefix(line, "=="):
			in = false
		}
		if in {
			failed.WriteString(line + "\n")
		}
	}
	t.Errorf("run.sh: %v (%s)\n%s\nlast lines:\n%s", err, summary, failed.String(), tail(out.String(), 45))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
