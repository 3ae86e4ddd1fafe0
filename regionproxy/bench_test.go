package regionproxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchSetup starts a backend answering 1 KiB and a proxy in front of it.
func benchSetup(b *testing.B) *testProxy {
	b.Helper()
	body := bytes.Repeat([]byte("x"), 1024)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}))
	b.Cleanup(backend.Close)
	ln := listen(b, "127.0.0.21")
	store := newSnapStore(buildSnapshot(b, map[string]string{
		"regions/eu":   regionJSON(b, ln.Addr().String()),
		"pools/eu/web": poolJSON("", backend.Listener.Addr().String()),
	}))
	return startProxy(b, "eu", ln, store, Options{})
}

// BenchmarkProxy measures a GET of a 1 KiB body through the proxy:
//   - handler: ServeHTTP called directly, so the figures are the proxy's own
//     work plus the keep-alive round trip to the backend;
//   - loopback: a client over loopback HTTP through the proxy's listener,
//     which adds the client and the server's connection handling.
func BenchmarkProxy(b *testing.B) {
	tp := benchSetup(b)
	b.Run("handler", func(b *testing.B) {
		req := httptest.NewRequestWithContext(context.Background(), "GET", "http://"+testHost+"/", nil)
		req.RemoteAddr = "192.0.2.1:40000"
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			w.code, w.n = 0, 0
			tp.ServeHTTP(w, req)
			if w.code != http.StatusOK || w.n != 1024 {
				b.Fatalf("status %d, %d bytes", w.code, w.n)
			}
		}
	})
	b.Run("loopback", func(b *testing.B) {
		c := newClient(b, "")
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest("GET", tp.url("/"), nil)
			req.Host = testHost
			res, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode != http.StatusOK || n != 1024 {
				b.Fatalf("status %d, %d bytes", res.StatusCode, n)
			}
		}
	})
	b.Run("loopback-parallel", func(b *testing.B) {
		c := newClient(b, "")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("GET", tp.url("/"), nil)
				req.Host = testHost
				res, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
		})
	})
}

// discardWriter is a ResponseWriter that counts the body.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
