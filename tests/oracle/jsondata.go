package main

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// decodeUnstructured decodes JSON as apimachinery's unstructured JSON does: integers that fit
// int64 become int64, every other number float64.
func decodeUnstructured(raw []byte) (any, error) {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return nil, err
	}
	return convertNumbers(value), nil
}

func convertNumbers(value any) any {
	switch v := value.(type) {
	case map[string]any:
		for key, item := range v {
			v[key] = convertNumbers(item)
		}
		return v
	case []any:
		for i, item := range v {
			v[i] = convertNumbers(item)
		}
		return v
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		f, _ := strconv.ParseFloat(string(v), 64)
		return f
	}
	return value
}

func decodeObject(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	value, err := decodeUnstructured(raw)
	if err != nil {
		return nil, err
	}
	object, _ := value.(map[string]any)
	return object, nil
}
