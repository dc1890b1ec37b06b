// Command harness renders test cases through Go's own text/template, mirroring Ollama
// (template/template.go and server/prompt.go chatPrompt without truncation), so the
// Python engine can be checked byte for byte. Input: a JSON array of cases on stdin;
// output: a JSON array of {"out", "err"} in the same order.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	gotemplate "text/template"

	"forgeharness/api"
	"forgeharness/template"
	"forgeharness/tools"
)

type Case struct {
	Mode          string          `json:"mode"`
	Name          string          `json:"name"`
	Template      string          `json:"template"`
	Data          json.RawMessage `json:"data"`
	Messages      []api.Message   `json:"messages"`
	ModelMessages []api.Message   `json:"model_messages"`
	Tools         api.Tools       `json:"tools"`
	Think         any             `json:"think"`
	System        string          `json:"system"`
	Prompt        string          `json:"prompt"`
	Suffix        string          `json:"suffix"`
	Chunks        []string        `json:"chunks"`
}

type Result struct {
	Out string  `json:"out"`
	Err *string `json:"err"`
}

func run(c Case) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	var b bytes.Buffer
	switch c.Mode {
	case "exec":
		tmpl, err := gotemplate.New(c.Name).Option("missingkey=zero").Funcs(template.Funcs).Parse(c.Template)
		if err != nil {
			return "", err
		}
		var data any
		if len(c.Data) > 0 {
			if err := json.Unmarshal(c.Data, &data); err != nil {
				return "", err
			}
		}
		err = tmpl.Execute(&b, data)
		return b.String(), err
	case "vars":
		tmpl, err := template.Parse(c.Name, c.Template)
		if err != nil {
			return "", err
		}
		vars, err := tmpl.Vars()
		return strings.Join(vars, ","), err
	case "caps":
		// server/images.go Capabilities: tools/insert from Vars, thinking from InferTags.
		tmpl, err := template.Parse(c.Name, c.Template)
		if err != nil {
			return "", err
		}
		vars, err := tmpl.Vars()
		if err != nil {
			return "", err
		}
		var caps []string
		if slices.Contains(vars, "tools") {
			caps = append(caps, "tools")
		}
		if slices.Contains(vars, "suffix") {
			caps = append(caps, "insert")
		}
		open, close := template.InferTags(tmpl.Template)
		if open != "" && close != "" {
			caps = append(caps, "thinking")
		}
		return strings.Join(caps, ",") + "|" + open + "|" + close, nil
	case "chat":
		tmpl, err := template.Parse(c.Name, c.Template)
		if err != nil {
			return "", err
		}
		// server/routes.go ChatHandler: model SYSTEM first unless the request starts with one.
		msgs := append(append([]api.Message{}, c.ModelMessages...), c.Messages...)
		if len(c.Messages) > 0 && c.Messages[0].Role != "system" && c.System != "" {
			msgs = append([]api.Message{{Role: "system", Content: c.System}}, msgs...)
		}
		// server/prompt.go chatPrompt: image tags, then one execution over all messages.
		nimg := 0
		for i, msg := range msgs {
			prefix := ""
			prompt := msg.Content
			for range msg.Images {
				tag := fmt.Sprintf("[img-%d]", nimg)
				if !strings.Contains(prompt, "[img]") {
					prefix += tag
				} else {
					prompt = strings.Replace(prompt, "[img]", tag, 1)
				}
				nimg++
			}
			msgs[i].Content = prefix + prompt
		}
		think := thinkValue(c.Think)
		err = tmpl.Execute(&b, template.Values{
			Messages: msgs, Tools: c.Tools, Think: think.Bool(), ThinkLevel: think.String(),
			IsThinkSet: think != nil,
		})
		return b.String(), err
	case "generate":
		tmpl, err := template.Parse(c.Name, c.Template)
		if err != nil {
			return "", err
		}
		think := thinkValue(c.Think)
		var values template.Values
		if c.Suffix != "" {
			values.Prompt = c.Prompt
			values.Suffix = c.Suffix
		} else {
			var msgs []api.Message
			if c.System != "" {
				msgs = append(msgs, api.Message{Role: "system", Content: c.System})
			}
			msgs = append(msgs, c.ModelMessages...)
			values.Messages = append(msgs, api.Message{Role: "user", Content: c.Prompt})
		}
		values.Think = think.Bool()
		values.ThinkLevel = think.String()
		values.IsThinkSet = think != nil
		err = tmpl.Execute(&b, values)
		return b.String(), err
	case "toolparse":
		return toolParse(c)
	case "chatparse":
		return chatParse(c)
	}
	return "", fmt.Errorf("unknown mode %q", c.Mode)
}

// toolParse runs Ollama's tool-call parser (tools/, as server/routes.go ChatHandler builds it
// from m.Template.Template) over the output chunks: the tag, each Add's result, then Content().
func toolParse(c Case) (string, error) {
	tmpl, err := template.Parse("", c.Template)
	if err != nil {
		return "", err
	}
	var names []string
	for _, t := range c.Tools {
		names = append(names, t.Function.Name)
	}
	tag := tools.ParseTag(tmpl.Template)
	p := tools.NewParser(tag, names)
	events := []any{}
	for _, chunk := range c.Chunks {
		calls, content := p.Add(chunk)
		out := []any{}
		for _, call := range calls {
			out = append(out, map[string]any{"index": call.Index, "name": call.Name, "arguments": call.Arguments})
		}
		events = append(events, map[string]any{"calls": out, "content": content})
	}
	b, err := json.Marshal(map[string]any{"tag": tag, "events": events, "flush": p.Content()})
	return string(b), err
}

func thinkValue(v any) *api.ThinkValue {
	if v == nil {
		return nil
	}
	return &api.ThinkValue{Value: v}
}

func main() {
	var cases []Case
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "harness: bad input:", err)
		os.Exit(2)
	}
	results := make([]Result, len(cases))
	for i, c := range cases {
		out, err := run(c)
		results[i].Out = out
		if err != nil {
			msg := err.Error()
			results[i].Err = &msg
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		os.Exit(1)
	}
}

// chatParse runs ChatHandler's output handling: thinking parser (tags from InferTags, think
// defaulting to on for a thinking template, a prompt ending in the opening tag pre-feeding
// it), then the tool-call parser when tools were sent.
func chatParse(c Case) (string, error) {
	tmpl, err := template.Parse("", c.Template)
	if err != nil {
		return "", err
	}
	open, close := template.InferTags(tmpl.Template)
	think := thinkValue(c.Think)
	if think == nil && open != "" && close != "" {
		think = &api.ThinkValue{Value: true}
	}
	var th *tools.Thinker
	if think.Bool() && open != "" && close != "" {
		th = &tools.Thinker{OpeningTag: open, ClosingTag: close}
		if strings.HasSuffix(strings.TrimSpace(c.Prompt), open) {
			th.AddContent(open)
		}
	}
	tag := tools.ParseTag(tmpl.Template)
	var tp *tools.Parser
	if len(c.Tools) > 0 {
		var names []string
		for _, t := range c.Tools {
			names = append(names, t.Function.Name)
		}
		tp = tools.NewParser(tag, names)
	}
	events := []any{}
	for _, ch := range tools.Chat(th, tp, c.Chunks) {
		calls := []any{}
		for _, call := range ch.Calls {
			calls = append(calls, map[string]any{"index": call.Index, "name": call.Name, "arguments": call.Arguments})
		}
		events = append(events, map[string]any{"thinking": ch.Thinking, "content": ch.Content, "calls": calls, "done": ch.Done})
	}
	b, err := json.Marshal(map[string]any{"tag": tag, "thinking": th != nil, "events": events})
	return string(b), err
}
