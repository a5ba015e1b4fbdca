package main

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// jsonFloat keeps a double a double in JSON (2 prints as 2.0), so the reader can tell it from an int.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	text := strconv.FormatFloat(float64(f), 'g', -1, 64)
	if !strings.ContainsAny(text, ".e") {
		text += ".0"
	}
	return []byte(text), nil
}

// render turns a CEL value into JSON data by celgate eval's rules (webhook/commands/eval.py):
// what JSON cannot hold prints as its CEL string form.
func render(value ref.Val) any {
	switch v := value.(type) {
	case types.Null:
		return nil
	case types.Bool:
		return bool(v)
	case types.Int:
		return int64(v)
	case types.Uint:
		return uint64(v)
	case types.Double:
		f := float64(v)
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "+Inf"
		case math.IsInf(f, -1):
			return "-Inf"
		}
		return jsonFloat(f)
	case types.String:
		return string(v)
	case types.Bytes:
		return base64.StdEncoding.EncodeToString([]byte(v))
	case types.Duration, types.Timestamp:
		return string(v.ConvertToType(types.StringType).(types.String))
	case *types.Type:
		return v.TypeName()
	case *types.Optional:
		return map[string]any{"oracle:optional": renderOptional(v)}
	}
	switch v := value.(type) {
	case traits.Mapper:
		result := map[string]any{}
		for it := v.Iterator(); it.HasNext() == types.True; {
			key := it.Next()
			result[renderKey(key)] = render(v.Get(key))
		}
		return result
	case traits.Lister:
		result := []any{}
		for it := v.Iterator(); it.HasNext() == types.True; {
			result = append(result, render(it.Next()))
		}
		return result
	}
	if _, printable := stringForms[value.Type().TypeName()]; printable {
		if stringer, ok := value.Value().(interface{ String() string }); ok {
			return stringer.String()
		}
	}
	return value.Type().TypeName()
}

// The Kubernetes types celgate eval prints as their text; any other object prints its type name.
var stringForms = map[string]struct{}{
	"kubernetes.Quantity": {}, "net.IP": {}, "net.CIDR": {}, "kubernetes.URL": {}, "kubernetes.Semver": {},
}

func renderOptional(o *types.Optional) map[string]any {
	if !o.HasValue() {
		return map[string]any{"optional": "none"}
	}
	return map[string]any{"value": render(o.GetValue()), "optional": "some"}
}

func renderKey(key ref.Val) string {
	switch k := key.(type) {
	case types.String:
		return string(k)
	case types.Int:
		return strconv.FormatInt(int64(k), 10)
	case types.Uint:
		return strconv.FormatUint(uint64(k), 10)
	case types.Bool:
		return strconv.FormatBool(bool(k))
	}
	return key.Type().TypeName()
}
