// Package tools mirrors Ollama's tool-call parser for Go TEMPLATE models, so that
// ollama_forge/fidelity/toolcall_parser.py can be checked against Go's own text/template
// parse trees, byte slices and encoding/json.
//
// Provenance: a transcription of the behaviour of github.com/ollama/ollama tools/template.go
// (parseTag, findToolCallNode, findTextNode) and tools/tools.go (Parser, findTool,
// findArguments, findObject, done, Content) as read for v0.33.0-rc2 (fb30760), written for
// this harness. Ollama is MIT-licensed (Copyright (c) Ollama). Deviation, on purpose: where
// Ollama ranges over a Go map (findObject's children, the order arguments are set in) this
// copy uses the JSON object's order, so results never depend on Go's random map order.
package tools

import (
	"bytes"
	"encoding/json"
	"strings"
	"text/template"
	"text/template/parse"
)

// Call is api.ToolCall as the harness reports it (no random id; arguments as a plain map).
type Call struct {
	Index     int            `json:"index"`
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
}

// ParseTag returns the tag Ollama derives from the text inside {{if .ToolCalls}}.
func ParseTag(tmpl *template.Template) string {
	if tmpl == nil || tmpl.Tree == nil {
		return "{"
	}
	tc := findToolCallNode(tmpl.Tree.Root.Nodes)
	if tc == nil {
		return "{"
	}
	tn := findTextNode(tc.List.Nodes)
	if tn == nil {
		return "{"
	}
	tag := strings.ReplaceAll(string(tn.Text), "\r\n", "\n")
	tag, _, _ = strings.Cut(tag, "{")
	tag = strings.TrimSpace(tag)
	if tag == "" {
		return "{"
	}
	return tag
}

func namesToolCalls(n *parse.IfNode) bool {
	for _, cmd := range n.Pipe.Cmds {
		for _, arg := range cmd.Args {
			if f, ok := arg.(*parse.FieldNode); ok {
				for _, id := range f.Ident {
					if id == "ToolCalls" {
						return true
					}
				}
			}
		}
	}
	return false
}

func branchLists(list, elseList *parse.ListNode) [][]parse.Node {
	out := [][]parse.Node{list.Nodes}
	if elseList != nil {
		out = append(out, elseList.Nodes)
	}
	return out
}

func findToolCallNode(nodes []parse.Node) *parse.IfNode {
	for _, node := range nodes {
		var lists [][]parse.Node
		switch n := node.(type) {
		case *parse.IfNode:
			if namesToolCalls(n) {
				return n
			}
			lists = branchLists(n.List, n.ElseList)
		case *parse.RangeNode:
			lists = branchLists(n.List, n.ElseList)
		case *parse.WithNode:
			lists = branchLists(n.List, n.ElseList)
		case *parse.ListNode:
			lists = [][]parse.Node{n.Nodes}
		}
		for _, l := range lists {
			if r := findToolCallNode(l); r != nil {
				return r
			}
		}
	}
	return nil
}

func findTextNode(nodes []parse.Node) *parse.TextNode {
	for _, node := range nodes {
		var lists [][]parse.Node
		stop := true
		switch n := node.(type) {
		case *parse.TextNode:
			if len(bytes.TrimSpace(n.Text)) == 0 {
				continue
			}
			return n
		case *parse.IfNode:
			lists = branchLists(n.List, n.ElseList)
		case *parse.RangeNode:
			lists = branchLists(n.List, n.ElseList)
		case *parse.WithNode:
			lists = branchLists(n.List, n.ElseList)
		case *parse.ListNode:
			lists, stop = [][]parse.Node{n.Nodes}, false
		case *parse.ActionNode:
			return nil
		default:
			continue
		}
		for _, l := range lists {
			if r := findTextNode(l); r != nil {
				return r
			}
		}
		if stop {
			return nil
		}
	}
	return nil
}

const (
	lookingForTag = iota
	toolCalling
	done
)

// Parser is tools.Parser.
type Parser struct {
	tag    string
	names  []string
	state  int
	buffer []byte
	n      int
}

func NewParser(tag string, names []string) *Parser {
	return &Parser{tag: tag, names: names}
}

func (p *Parser) Add(s string) (calls []Call, content string) {
	if p.state == done {
		return nil, s
	}
	p.buffer = append(p.buffer, s...)
	if p.state == lookingForTag {
		i, found := p.findTag()
		if i == -1 {
			content = string(p.buffer)
			p.buffer = []byte{}
		} else {
			content = string(p.buffer[:i])
			p.buffer = p.buffer[i:]
		}
		if p.tag == "{" || p.tag == "[" {
			if strings.TrimSpace(content) != "" {
				p.state = done
				return nil, content + string(p.buffer)
			}
		}
		if !found {
			return nil, content
		}
		p.state = toolCalling
	}
	for {
		call := p.parseToolCall()
		if call == nil {
			break
		}
		calls = append(calls, *call)
	}
	if p.done() {
		p.state = done
		content = string(p.buffer)
		p.buffer = []byte{}
	}
	return calls, content
}

func (p *Parser) findTag() (int, bool) {
	if i := bytes.Index(p.buffer, []byte(p.tag)); i > -1 {
		return i, true
	}
	for i := min(len(p.buffer), len(p.tag)); i > 0; i-- {
		if bytes.HasSuffix(p.buffer, []byte(p.tag[:i])) {
			return len(p.buffer) - i, false
		}
	}
	return -1, false
}

func (p *Parser) parseToolCall() *Call {
	idx, end := findTool(p.names, p.buffer)
	if idx < 0 {
		return nil
	}
	args, i := findArguments(p.names[idx], p.buffer)
	if args == nil {
		return nil
	}
	if i > end {
		end = i
	}
	call := &Call{Index: p.n, Name: p.names[idx], Arguments: objectMap(args)}
	p.n++
	p.buffer = p.buffer[end:]
	return call
}

func findTool(names []string, buf []byte) (int, int) {
	if len(buf) == 0 {
		return -1, 0
	}
	longest := 0
	for _, name := range names {
		longest = max(longest, len(name))
	}
	for i := 1; i <= min(len(buf), longest); i++ {
		tail := buf[len(buf)-i:]
		for _, name := range names {
			if len(tail) < len(name) && bytes.HasPrefix([]byte(name), tail) {
				return -1, 0
			}
		}
	}
	found, start, end := -1, -1, -1
	for i, name := range names {
		pos := bytes.Index(buf, []byte(name))
		if pos == -1 {
			continue
		}
		if start != -1 && (pos > start || (pos == start && len(name) <= len(names[found]))) {
			continue
		}
		found, start, end = i, pos, pos+len(name)
	}
	if found < 0 {
		return -1, 0
	}
	return found, end
}

// object is a decoded JSON object that remembers its key order (see the package comment).
type object struct {
	keys []string
	vals map[string]any
}

// decode is json.Unmarshal into any, keeping object key order; nil, false on a JSON error.
func decode(data []byte) (any, bool) {
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	v, err := decodeValue(dec)
	return v, err == nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			o := &object{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				if _, seen := o.vals[key]; seen {
					// a repeated key keeps its first place, with the last value
					o.vals[key] = v
					continue
				}
				o.keys = append(o.keys, key)
				o.vals[key] = v
			}
			_, err := dec.Token()
			return o, err
		}
		var list []any
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		if list == nil {
			list = []any{}
		}
		_, err := dec.Token()
		return list, err
	default:
		return t, nil
	}
}

// objectMap turns a decoded object back into plain Go values (maps, slices, float64...).
func objectMap(o *object) map[string]any {
	out := make(map[string]any, len(o.keys))
	for _, k := range o.keys {
		out[k] = plain(o.vals[k])
	}
	return out
}

func plain(v any) any {
	switch t := v.(type) {
	case *object:
		return objectMap(t)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = plain(x)
		}
		return out
	}
	return v
}

// findMap is findObject's findMap: an object value, or a string holding a JSON object or null.
func findMap(name string, obj *object) (*object, bool) {
	switch v := obj.vals[name].(type) {
	case *object:
		return v, true
	case string:
		parsed, ok := decode([]byte(v))
		if !ok {
			return nil, false
		}
		switch p := parsed.(type) {
		case *object:
			return p, true
		case nil:
			return nil, true
		}
	}
	return nil, false
}

func findObject(toolName string, obj *object) (*object, bool) {
	if _, hasName := obj.vals["name"]; hasName {
		if args, ok := findMap("arguments", obj); ok {
			return args, true
		}
		if args, ok := findMap("parameters", obj); ok {
			return args, true
		}
		return nil, true
	}
	if args, ok := findMap(toolName, obj); ok {
		return args, true
	}
	for _, k := range obj.keys {
		switch child := obj.vals[k].(type) {
		case *object:
			if r, found := findObject(toolName, child); found {
				return r, true
			}
		case []any:
			for _, item := range child {
				if o, ok := item.(*object); ok {
					if r, found := findObject(toolName, o); found {
						return r, true
					}
				}
			}
		}
	}
	return nil, false
}

func findArguments(toolName string, buffer []byte) (*object, int) {
	start := -1
	var braces int
	var inString, escaped bool
	for i := range buffer {
		c := buffer[i]
		if escaped {
			escaped = false
			continue
		}
		if c == '\\' {
			escaped = true
			continue
		}
		if c == '"' {
			inString = !inString
			continue
		}
		if inString {
			continue
		}
		if c == '{' {
			if braces == 0 {
				start = i
			}
			braces++
		} else if c == '}' {
			braces--
			if braces == 0 && start != -1 {
				data, ok := decode(buffer[start : i+1])
				o, isObj := data.(*object)
				if !ok || !isObj {
					start = -1
					continue
				}
				if args, found := findObject(toolName, o); found {
					return args, i
				}
				return o, i
			}
			if braces < 0 {
				braces = 0
			}
		}
	}
	return nil, 0
}

func (p *Parser) done() bool {
	var open, close byte
	switch p.tag {
	case "{":
		open, close = '{', '}'
	case "[":
		open, close = '[', ']'
	default:
		return false
	}
	count := 0
	for _, c := range p.buffer {
		if c == open {
			count++
		} else if c == close {
			count--
			if count == 0 {
				return true
			}
		}
	}
	return false
}

// Content is Parser.Content.
func (p *Parser) Content() string {
	if p.n > 0 {
		return ""
	}
	if p.tag == "{" || p.tag == "[" {
		return string(p.buffer)
	}
	return ""
}
