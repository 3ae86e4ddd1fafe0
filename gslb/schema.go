package gslb

import (
	"net/netip"
	"reflect"
	"strings"
)

// Schema returns a JSON Schema (draft 2020-12) for the values of one
// policy kind, derived from the model itself so it cannot drift: unknown
// fields are refused (additionalProperties false) as the decoder refuses
// them, durations are strings, addresses and prefixes are strings, and
// the enumerations are those Validate accepts. Bounds that need code
// (lat/lon ranges, TTL limits, references) are left to
// `meridian policy validate`. Editors use these files
// (docs/schema/*.json) to catch typos before an etcdctl put.
func Schema(k Kind) map[string]any {
	var t reflect.Type
	switch k {
	case KindZone:
		t = reflect.TypeFor[Zone]()
	case KindRegion:
		t = reflect.TypeFor[Region]()
	case KindService:
		t = reflect.TypeFor[Service]()
	case KindPool:
		t = reflect.TypeFor[Pool]()
	case KindNetwork:
		t = reflect.TypeFor[Network]()
	case KindProxyStatus:
		t = reflect.TypeFor[ProxyStatus]()
	case KindProbeStatus:
		t = reflect.TypeFor[ProbeStatus]()
	default:
		return nil
	}
	s := schemaOf(t)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "Meridian " + k.String()
	return s
}

// enums are the closed sets of string fields, as Validate checks them.
var enums = map[string][]string{
	"Service.Policy":   {string(PolicyGeo), string(PolicyFailover)},
	"Service.Fallback": {string(FallbackAll), string(FallbackNone)},
	"Pool.Balancer":    Balancers,
}

var (
	durationT = reflect.TypeFor[Duration]()
	addrT     = reflect.TypeFor[netip.Addr]()
	prefixT   = reflect.TypeFor[netip.Prefix]()
)

func schemaOf(t reflect.Type) map[string]any {
	switch t {
	case durationT:
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	case addrT:
		return map[string]any{"type": "string", "anyOf": []any{map[string]any{"format": "ipv4"}, map[string]any{"format": "ipv6"}}}
	case prefixT:
		return map[string]any{"type": "string", "pattern": `^[0-9a-fA-F:.]+/[0-9]{1,3}$`}
	}
	if t.Name() == "RawMessage" {
		// json.RawMessage: a health check, validated by the probes package.
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Struct:
		if t.PkgPath() == "time" && t.Name() == "Time" {
			return map[string]any{"type": "string", "format": "date-time"}
		}
		props := map[string]any{}
		var required []any
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			p := schemaOf(f.Type)
			if e, ok := enums[t.Name()+"."+f.Name]; ok {
				p["enum"] = e
			}
			props[name] = p
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer && f.Type.Kind() != reflect.Bool {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}
