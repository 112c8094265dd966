// Package strictjson decodes JSON the way the gateway's and the runner's
// decoders promise: one value, no unknown fields, and no key twice.
// encoding/json keeps the last of two equal keys and matches a key to a
// field case-insensitively, so {"command":"ls","Command":"rm -rf ."} or
// {"COMMAND":...} would decode to something the audit log and a reviewer
// read differently. Keys checks the keys against the Go type before the
// decoder sees them: a struct's keys must be its fields' JSON names
// exactly, and no object (a struct's or a map's, or one of free form) may
// name a key twice.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// maxDepth bounds nesting, as encoding/json's own scanner does (10000):
// the walk below recurses.
const maxDepth = 10000

// Decode decodes one JSON value from data into v (a pointer): the keys
// checked by Keys, unknown fields refused, nothing after the value.
func Decode(data []byte, v any) error {
	if err := Keys(data, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// Keys reports the first duplicate key, or a key that names a field of t
// (a struct, or a pointer, map or slice of one) in another case. Unknown
// keys and malformed JSON are left to the decoder, which says what they
// are.
func Keys(data []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	err := walk(dec, t, "", 0)
	if errors.Is(err, errSyntax) {
		return nil // the decoder's own message is the better one
	}
	return err
}

var errSyntax = errors.New("syntax")

var rawMessage = reflect.TypeFor[json.RawMessage]()

func walk(dec *json.Decoder, t reflect.Type, at string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("JSON nested more than %d deep", maxDepth)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage {
		t = nil // free form
	}
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil
		}
		return errSyntax
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", at, i), depth+1); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			fields = fieldsOf(t)
		case t != nil && t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return errSyntax
			}
			key, _ := kt.(string)
			path := key
			if at != "" {
				path = at + "." + key
			}
			if seen[key] {
				return fmt.Errorf("duplicate key %q", path)
			}
			seen[key] = true
			vt := elem
			if fields != nil {
				var ok bool
				if vt, ok = fields[key]; !ok {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return fmt.Errorf("key %q: the parameter is %q (keys are case-sensitive)", path, name)
						}
					}
				}
			}
			if err := walk(dec, vt, path, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return errSyntax
	}
	return nil
}

// fieldsOf maps a struct's JSON field names to their types, as
// encoding/json names them (the tag's name, or the Go name; embedded
// structs' fields promoted).
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range fieldsOf(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
