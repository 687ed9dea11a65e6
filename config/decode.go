package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantryops/gantry/excerpt"
)

// decoder fills a Go value from a YAML node tree, strictly: unknown fields
// (with a suggestion), duplicate keys and wrong types are errors that name
// the file, line, column and field. It remembers where each field was
// written so that validation can point at it too.
type decoder struct {
	file string
	errs Errors
	pos  map[string]*yaml.Node
	bad  map[string]bool // fields that failed to decode: validation skips them
}

// maxConfigSize bounds a configuration file; real ones are a few KiB.
const maxConfigSize = 1 << 20

// parseDocument decodes data into out (a pointer to a struct), strictly.
// An empty document leaves out unchanged.
func parseDocument(file string, data []byte, out any) (*decoder, error) {
	d := &decoder{file: file, pos: map[string]*yaml.Node{}, bad: map[string]bool{}}
	if len(data) > maxConfigSize {
		d.errs = append(d.errs, &FieldError{File: file, Msg: fmt.Sprintf("file is %d bytes, larger than the %d allowed", len(data), maxConfigSize)})
		return d, d.errs.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return d, nil
		}
		d.errs = append(d.errs, syntaxError(file, err))
		return d, d.errs.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs = append(d.errs, &FieldError{File: file, Line: extra.Line, Column: extra.Column, Msg: "a second YAML document; the file must hold exactly one"})
	}
	if len(doc.Content) == 1 {
		d.decode(doc.Content[0], reflect.ValueOf(out).Elem(), "")
	}
	return d, nil
}

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: ...") into a
// FieldError with the line.
func syntaxError(file string, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &FieldError{File: file, Line: line, Msg: "invalid YAML: " + excerpt.Clip(msg)}
}

// at records an error at node n for field path, and marks the field bad.
func (d *decoder) at(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	fe := &FieldError{File: d.file, Field: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		fe.Line, fe.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, fe)
}

// errAt records a validation error at the place field path was written,
// or at its nearest written parent.
// A field that already failed to decode gets no second error.
func (d *decoder) errAt(path, format string, args ...any) {
	if d.bad[path] {
		return
	}
	d.at(d.nodeOf(path), path, format, args...)
}

// nodeOf finds where path, or its nearest parent, was written.
func (d *decoder) nodeOf(path string) *yaml.Node {
	for p := path; p != ""; {
		if n, ok := d.pos[p]; ok {
			return n
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return d.pos[""]
}

// has reports whether field path was written in the file.
func (d *decoder) has(path string) bool {
	_, ok := d.pos[path]
	return ok
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // keep the zero value; defaults apply later
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.at(n, path, "%s", excerpt.Clip(err.Error()))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.at(n, path, "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			d.at(n, path, "want a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
			d.at(n, path, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v.OverflowInt(i) {
			d.at(n, path, "want a whole number, got %s", describe(n))
			return
		}
		v.SetInt(i)
	default:
		d.at(n, path, "cannot decode into %s", v.Type())
	}
}

// fieldsOf maps a struct's YAML names to field indexes.
func fieldsOf(t reflect.Type) (map[string]int, []string) {
	idx := map[string]int{}
	var names []string
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		idx[tag] = i
		names = append(names, tag)
	}
	return idx, names
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.at(n, path, "want a mapping of fields, got %s", describe(n))
		return
	}
	idx, names := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			d.at(k, path, "merge keys (<<) are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.at(k, join(path, excerpt.Short(k.Value)), "given twice (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		fi, ok := idx[k.Value]
		if !ok {
			d.at(k, path, "unknown field %s%s", excerpt.Quote(k.Value), didYouMean(k.Value, names))
			if s := suggest(k.Value, names); s != "" {
				// The typo is the error; "s is missing" would repeat it.
				d.bad[join(path, s)] = true
			}
			continue
		}
		d.decode(val, v.Field(fi), join(path, k.Value))
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.at(n, path, "want a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := path + "." + excerpt.Short(k.Value)
		if first, dup := seen[k.Value]; dup {
			d.at(k, p, "given twice (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		elem := reflect.New(v.Type().Elem()).Elem()
		if val.Kind == yaml.ScalarNode && val.Tag != "!!null" && elem.Kind() == reflect.String {
			// Map values such as Helm's set are strings by nature; a
			// number or boolean is taken as written.
			d.pos[p] = val
			elem.SetString(val.Value)
		} else {
			d.decode(val, elem, p)
		}
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(m)
}

// describe names a node's type and value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	switch n.Tag {
	case "!!str":
		return "string " + excerpt.Quote(n.Value)
	case "!!int", "!!float":
		return fmt.Sprintf("number %s (quote it if it is meant as text)", excerpt.Short(n.Value))
	case "!!bool":
		return "boolean " + excerpt.Short(n.Value)
	case "!!null":
		return "nothing"
	}
	return excerpt.Quote(n.Value)
}
