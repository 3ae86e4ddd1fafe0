package gslb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Validators check the parts of a value whose grammar lives outside gslb:
// static DNS records (the DNS server's parser) and health checks (the
// probes package). The binary wires the real ones in; a nil function accepts
// anything, which only tests should rely on.
type Validators struct {
	// Record checks one static record in zone-file syntax for zone origin.
	Record func(origin, text string) error
	// Check checks a health check definition.
	Check func(raw json.RawMessage) error
}

// Entry is one decoded, validated value with its key.
type Entry struct {
	Key Key
	// Value is *Zone, *Region, *Service, *Pool, *Network, *ProxyStatus or
	// *ProbeStatus according to Key.Kind.
	Value any
	// Raw is the JSON as stored, kept so a snapshot can be written to disk
	// and shown back to operators unchanged.
	Raw []byte
	// ModRevision is the etcd revision that last wrote the key (0 when the
	// entry did not come from etcd).
	ModRevision int64
}

// KeyError is a problem with one key's value. Field is a JSON path such as
// "regions[1]" or "" when the problem is the whole value.
type KeyError struct {
	Key   string
	Field string
	Err   error
}

func (e *KeyError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Key, e.Field, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// fieldError is a validation problem at a path inside a value.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func ferr(field, format string, args ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}

// Decode parses and validates the value of key rel (relative to the
// prefix). The JSON is decoded strictly: unknown fields, trailing data and
// wrong types are errors. Every error is a *KeyError, or several joined.
func Decode(rel string, value []byte, v Validators) (Entry, error) {
	k, err := ParseKey(rel)
	if err != nil {
		return Entry{}, &KeyError{Key: rel, Err: err}
	}
	return DecodeKey(k, value, v)
}

// DecodeKey is Decode for an already parsed key.
func DecodeKey(k Key, value []byte, v Validators) (Entry, error) {
	ks := k.String()
	var val any
	switch k.Kind {
	case KindZone:
		val = &Zone{Name: k.Name}
	case KindRegion:
		val = &Region{Name: k.Name}
	case KindService:
		val = &Service{Name: k.Name}
	case KindPool:
		val = &Pool{Region: k.Parent, Name: k.Name}
	case KindNetwork:
		val = &Network{Name: k.Name}
	case KindProxyStatus:
		val = &ProxyStatus{Region: k.Parent, Instance: k.Name}
	case KindProbeStatus:
		ps := &ProbeStatus{Prober: k.Parent}
		// ParseKey checked the address already.
		if err := ps.Target.UnmarshalText([]byte(k.Name)); err != nil {
			return Entry{}, &KeyError{Key: ks, Err: err}
		}
		val = ps
	default:
		return Entry{}, &KeyError{Key: ks, Err: ErrBadKey}
	}
	if err := strictUnmarshal(value, val); err != nil {
		return Entry{}, &KeyError{Key: ks, Field: jsonErrField(err), Err: cleanJSONErr(err)}
	}
	if errs := validate(val, v); errs != nil {
		return Entry{}, keyErrors(ks, errs)
	}
	return Entry{Key: k, Value: val, Raw: value}, nil
}

func strictUnmarshal(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty value (want a JSON object)")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// cleanJSONErr drops the "json: " prefix that means nothing to an operator.
func cleanJSONErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Type == durationType {
			return fmt.Errorf("duration must be a string such as \"30s\" or \"500ms\", got %s", te.Value)
		}
		return fmt.Errorf("want %s, got JSON %s", te.Type, te.Value)
	}
	msg := err.Error()
	if m, ok := strings.CutPrefix(msg, "json: "); ok {
		return errors.New(m)
	}
	return err
}

func jsonErrField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

func keyErrors(key string, err error) error {
	var list []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *fieldError
		if errors.As(e, &fe) {
			list = append(list, &KeyError{Key: key, Field: fe.field, Err: fe.err})
			return
		}
		list = append(list, &KeyError{Key: key, Err: e})
	}
	walk(err)
	if len(list) == 1 {
		return list[0]
	}
	return errors.Join(list...)
}
