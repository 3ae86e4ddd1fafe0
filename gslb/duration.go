package gslb

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"
)

var durationType = reflect.TypeFor[Duration]()

// Duration is a time.Duration that travels through JSON as a Go duration
// string ("250ms", "30s", "1h"). Numbers are rejected on purpose: a bare 30
// could mean seconds or nanoseconds, and guessing wrong silently is the kind
// of mistake an operator only finds during an outage.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a duration string such as "500ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	// Errors are *json.UnmarshalTypeError so that encoding/json adds the
	// field path ("ttl") and Decode can name it.
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: durationType}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: durationType}
	}
	*d = Duration(v)
	return nil
}
