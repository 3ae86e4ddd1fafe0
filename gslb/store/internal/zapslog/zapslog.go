// Package zapslog forwards the zap logs of etcd's server and client to a
// slog.Logger, errors only.
package zapslog

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a zap logger that forwards entries at level error and
// above to l, and drops the rest, and everything while mute is set. etcd
// logs every raft step at info; in a dev server or a test that is noise,
// but an error (a corrupt WAL, a port in use) must still reach the
// operator. mute is set while the server closes, when etcd reports each
// listener it shuts as a failure ("use of closed network connection").
func New(l *slog.Logger, mute *atomic.Bool) *zap.Logger {
	if l == nil {
		return zap.NewNop()
	}
	return zap.New(&slogCore{log: l, mute: mute})
}

type slogCore struct {
	log    *slog.Logger
	mute   *atomic.Bool // nil: never muted
	fields []zapcore.Field
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.ErrorLevel && (c.mute == nil || !c.mute.Load())
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{log: c.log, mute: c.mute, fields: append(append([]zapcore.Field(nil), c.fields...), fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields)+1)
	if e.LoggerName != "" {
		attrs = append(attrs, slog.String("etcd_logger", e.LoggerName))
	}
	for k, v := range enc.Fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	if c.mute != nil && c.mute.Load() {
		return nil
	}
	c.log.LogAttrs(context.Background(), slog.LevelError, e.Message, attrs...)
	return nil
}

func (c *slogCore) Sync() error { return nil }
