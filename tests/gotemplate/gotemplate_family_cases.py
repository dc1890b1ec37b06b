"""Go TEMPLATEs of Ollama's built-in families and popular library models (written from
Ollama's template/*.gotmpl and the library Modelfiles) used as conformance inputs."""

from __future__ import annotations

FAMILY_TEMPLATES: dict[str, str] = {
    "chatml": """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
""",
    "llama3-instruct": """{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

""",
    "llama2-chat": """{{- $system := "" }}[INST] {{ range $index, $_ := .Messages }}
{{- if eq .Role "system" }}
{{- if not $system }}{{ $system = .Content }}{{ end }}
{{- else if eq .Role "user" }}
{{- if and (eq $index 1) $system }}<<SYS>>{{ $system }}<</SYS>>

{{ end }}{{ .Content }} [/INST]
{{- else if eq .Role "assistant" }} {{ .Content }}</s><s>[INST] {{ end }}
{{- end }}""",
    "mistral-instruct": """{{- if .Messages }}
{{- range $index, $_ := .Messages }}
{{- if eq .Role "user" }}
{{- if and (eq (len (slice $.Messages $index)) 1) $.System }}[INST] {{ $.System }}

{{ .Content }}[/INST]
{{- else }}[INST] {{ .Content }}[/INST]
{{- end }}
{{- else if eq .Role "assistant" }} {{ .Content }}</s>
{{- end }}
{{- end }}
{{- else }}[INST] {{ if .System }}{{ .System }}

{{ end }}{{ .Prompt }}[/INST] {{ .Response }}
{{- end }}""",
    "gemma-instruct": """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}""",
    "gemma3-instruct": """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user
{{ .Content }}<end_of_turn>
{{ if $last }}<start_of_turn>model
{{ end }}
{{- else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}{{ if not $last }}<end_of_turn>
{{ end }}
{{- end }}
{{- end }}""",
    "phi-3": """{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}<|end|>
{{ end }}<|assistant|>
""",
    "command-r": """{{- if or .Tools .System }}<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>
{{- if .Tools }}# Safety Preamble
The instructions in this section override those in the task description and style guide sections. Don't answer questions that are harmful or immoral.

# System Preamble
## Basic Rules
You are a powerful conversational AI trained by Cohere to help people.
{{ if .System }}
# User Preamble
{{ .System }}
{{- end }}

## Available Tools
Here is a list of tools that you have available to you:
{{- range .Tools }}

```python
def {{ .Function.Name }}(
{{- range $name, $property := .Function.Parameters.Properties }}{{ $name }}: {{ $property.Type }}, {{ end }}) -> List[Dict]:
    '''{{ .Function.Description }}

{{- if .Function.Parameters.Properties }}

    Args:
{{- range $name, $property := .Function.Parameters.Properties }}
        {{ $name }} ({{ $property.Type }}): {{ $property.Description }}
{{- end }}
{{- end }}
    '''
    pass
```
{{- end }}
{{- else if .System }}{{ .System }}
{{- end }}<|END_OF_TURN_TOKEN|>
{{- end }}
{{- range .Messages }}
{{- if eq .Role "system" }}
{{- continue }}
{{- end }}<|START_OF_TURN_TOKEN|>
{{- if eq .Role "user" }}<|USER_TOKEN|>{{ .Content }}
{{- if $.Tools }}<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Write 'Action:' followed by a json-formatted list of actions.{{ end }}
{{- else if eq .Role "assistant" }}<|CHATBOT_TOKEN|>
{{- if .Content }}{{ .Content }}
{{- else if .ToolCalls }}
Action: ```json
[
{{- range .ToolCalls }}
    {
        "tool_name": "{{ .Function.Name }}",
        "parameters": {{ .Function.Arguments }}
    }
{{- end }}
]```
{{ end }}
{{- else if eq .Role "tool" }}<|SYSTEM_TOKEN|><results>
{{ .Content }}</results>
{{- end }}<|END_OF_TURN_TOKEN|>
{{- end }}<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>""",
    "zephyr": """{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}</s>
{{ end }}<|assistant|>
""",
    "vicuna": """{{- if .System }}{{ .System }}

{{ end }}
{{- range .Messages }}
{{- if eq .Role "user" }}USER: {{ .Content }}
{{ else if eq .Role "assistant" }}ASSISTANT: {{ .Content }}
{{ end }}
{{- end }}ASSISTANT:""",
    "alpaca": """{{- $system := .System }}
{{- range .Messages }}
{{- if eq .Role "user" }}
{{- if $system }}{{ $system }}

{{ $system = "" }}{{ end }}### Instruction:
{{ .Content }}

{{ else if eq .Role "assistant" }}### Response:
{{ .Content }}

{{ end }}
{{- end }}### Response:
""",
    "openchat": """{{- range .Messages }}GPT4 Correct {{ if eq .Role "user" }}User{{ else if eq .Role "assistant" }}Assistant{{ else }}{{ .Role }}{{ end }}: {{ .Content }}<|end_of_turn|>
{{- end }}GPT4 Correct Assistant:""",
    "granite": """{{- if .Tools }}<|start_of_role|>available_tools<|end_of_role|>
{{- range .Tools }}
{{ json .Function }}
{{ end }}<|end_of_text|>
{{ end }}
{{- range $index, $_ := .Messages }}<|start_of_role|>
{{- if eq .Role "tool" }}tool_response
{{- else }}{{ .Role }}
{{- end }}<|end_of_role|>
{{- if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<|tool_call|>
{{- range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{- end }}
{{- end }}
{{- if eq (len (slice $.Messages $index)) 1 }}
{{- if eq .Role "assistant" }}
{{- else }}<|end_of_text|>
<|start_of_role|>assistant<|end_of_role|>
{{- end }}
{{- else }}<|end_of_text|>
{{ end }}
{{- end }}""",
    "qwen2.5-tools": """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}""",
    "llama3.1-tools": """{{- if or .System .Tools }}<|start_header_id|>system<|end_header_id|>
{{- if .System }}

{{ .System }}
{{- end }}
{{- if .Tools }}

Cutting Knowledge Date: December 2023

When you receive a tool call response, use the output to format an answer to the orginal user question.

You are a helpful assistant with tool calling capabilities.
{{- end }}<|eot_id|>
{{- end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|start_header_id|>user<|end_header_id|>
{{- if and $.Tools $last }}

Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.

Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}. Do not use variables.

{{ range $.Tools }}
{{- . }}
{{ end }}
Question: {{ .Content }}<|eot_id|>
{{- else }}

{{ .Content }}<|eot_id|>
{{- end }}{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- else if eq .Role "assistant" }}<|start_header_id|>assistant<|end_header_id|>
{{- if .ToolCalls }}
{{ range .ToolCalls }}
{"name": "{{ .Function.Name }}", "parameters": {{ .Function.Arguments }}}{{ end }}
{{- else }}

{{ .Content }}
{{- end }}{{ if not $last }}<|eot_id|>{{ end }}
{{- else if eq .Role "tool" }}<|start_header_id|>ipython<|end_header_id|>

{{ .Content }}<|eot_id|>{{ if $last }}<|start_header_id|>assistant<|end_header_id|>

{{ end }}
{{- end }}
{{- end }}""",
    "deepseek-r1": """{{- if .System }}{{ .System }}{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1}}
{{- if eq .Role "user" }}<｜User｜>{{ .Content }}
{{- else if eq .Role "assistant" }}<｜Assistant｜>
  {{- if and $.IsThinkSet (and $last .Thinking) -}}
<think>
{{ .Thinking }}
</think>
{{- end }}{{ .Content }}{{- if not $last }}<｜end▁of▁sentence｜>{{- end }}
{{- end }}
{{- if and $last (ne .Role "assistant") }}<｜Assistant｜>
{{- if and $.IsThinkSet (not $.Think) -}}
<think>

</think>

{{ end }}
{{- end -}}
{{- end }}""",
    "qwen3-thinking": """{{- $lastUserIdx := -1 -}}
{{- range $idx, $msg := .Messages -}}
{{- if eq $msg.Role "user" }}{{ $lastUserIdx = $idx }}{{ end -}}
{{- end }}
{{- if or .System .Tools }}<|im_start|>system
{{ if .System }}{{ .System }}
{{ end }}
{{- if .Tools }}# Tools

<tools>
{{- range .Tools }}
{{ json .Function }}
{{- end }}
</tools>
{{- end -}}
<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if (and $.IsThinkSet (and .Thinking (or $last (gt $i $lastUserIdx)))) -}}
<think>{{ .Thinking }}</think>
{{ end -}}
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ if and $.IsThinkSet (not $.Think) -}}
<think>

</think>

{{ end -}}
{{ end }}
{{- end }}""",
    "gpt-oss-like": """<|start|>system<|message|>Reasoning: {{ if $.ThinkLevel }}{{ $.ThinkLevel }}{{ else }}medium{{ end }}
Current date: {{ currentDate }}
{{- if .Tools }}
namespace functions {
{{- range .Tools }}
// {{ .Function.Description }}
type {{ .Function.Name }} = (_: {
{{- range $name, $prop := .Function.Parameters.Properties }}
{{ $name }}{{ if not (has $.Function.Parameters.Required $name) }}?{{ end }}: {{ toTypeScriptType $prop }},
{{- end }}
}) => any;
{{- end }}
} // namespace functions
{{- end }}<|end|>
{{- range .Messages }}<|start|>{{ .Role }}<|message|>{{ .Content }}<|end|>{{ end }}<|start|>assistant""",
    "legacy-alpaca": """{{ if .System }}{{ .System }}

{{ end }}### Instruction:
{{ .Prompt }}

### Response:
{{ .Response }}
""",
    "legacy-chatml": """{{ if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ .Response }}<|im_end|>
""",
    "legacy-prompt-only": "{{ .Prompt }}",
    "legacy-no-response": "{{ if .System }}[S]{{ .System }}[/S]{{ end }}[U]{{ .Prompt }}[/U]",
    "fim": "{{ if .Suffix }}<PRE> {{ .Prompt }} <SUF>{{ .Suffix }} <MID>{{ else }}{{ .Prompt }}{{ end }}",
}

# "has" is not an Ollama function: that template must fail to parse on both sides.
PARSE_FAILS = {"gpt-oss-like"}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather for a city & country <now>",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": ["integer", "null"], "description": "How many days"},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "filters": {
                    "type": "object",
                    "properties": {"site": {"type": "string"}, "lang": {"type": "string"}},
                },
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}

CONVERSATIONS: dict[str, dict] = {
    "user": {"messages": [{"role": "user", "content": "Hello!"}]},
    "system-user": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": 'Hi <b> & "q"'},
        ]
    },
    "model-system": {
        "system": "Model SYSTEM prompt.",
        "messages": [{"role": "user", "content": "What is 2+2?"}],
    },
    "request-system-replaces-model": {
        "system": "Model SYSTEM.",
        "messages": [
            {"role": "system", "content": "Request system."},
            {"role": "user", "content": "Go."},
        ],
    },
    "multi-turn": {
        "system": "Be nice.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Tell me a joke.\nA short one."},
        ],
    },
    "ends-with-assistant": {
        "messages": [
            {"role": "user", "content": "Start"},
            {"role": "assistant", "content": "Partial answer"},
        ]
    },
    "collate": {
        "messages": [
            {"role": "system", "content": "S1"},
            {"role": "system", "content": "S2"},
            {"role": "user", "content": "U1"},
            {"role": "user", "content": "U2"},
            {"role": "assistant", "content": "A1"},
            {"role": "assistant", "content": "A2"},
            {"role": "user", "content": "U3"},
        ]
    },
    "model-messages": {
        "system": "Sys.",
        "model_messages": [
            {"role": "user", "content": "Example question"},
            {"role": "assistant", "content": "Example answer"},
        ],
        "messages": [{"role": "user", "content": "Real question"}],
    },
    "tools": {
        "tools": [WEATHER_TOOL, SEARCH_TOOL],
        "messages": [
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "function": {
                            "index": 0,
                            "name": "get_weather",
                            "arguments": {"city": "Paris", "days": 2, "unit": "celsius"},
                        },
                    },
                    {
                        "function": {
                            "index": 1,
                            "name": "search",
                            "arguments": {"query": "paris <weather>"},
                        }
                    },
                ],
            },
            {
                "role": "tool",
                "content": '{"temp": 21.5}',
                "tool_name": "get_weather",
                "tool_call_id": "call_1",
            },
            {"role": "tool", "content": "sunny", "tool_name": "search"},
            {"role": "user", "content": "Thanks, and tomorrow?"},
        ],
    },
    "tools-pending": {
        "tools": [WEATHER_TOOL],
        "messages": [{"role": "user", "content": "Weather in Rome?"}],
    },
    "thinking": {
        "think": True,
        "messages": [
            {"role": "user", "content": "Solve 3*7"},
            {"role": "assistant", "content": "21", "thinking": "3 times 7 is 21"},
            {"role": "user", "content": "And 4*6?"},
        ],
    },
    "thinking-off": {"think": False, "messages": [{"role": "user", "content": "Quick: 1+1?"}]},
    "thinking-level": {
        "think": "high",
        "messages": [
            {"role": "user", "content": "Ponder."},
            {"role": "assistant", "content": "Done", "thinking": "pondering..."},
        ],
    },
    "images": {
        "messages": [
            {
                "role": "user",
                "content": "What is in [img] this picture?",
                "images": ["aGVsbG8=", "d29ybGQ="],
            },
            {"role": "user", "content": "And this?", "images": ["Zm9v"]},
        ]
    },
    "unicode": {"messages": [{"role": "user", "content": "Grüße 🌍 \u2028 tab\there"}]},
    "nil-arguments": {
        "tools": [{"type": "function", "function": {"name": "noargs"}}],
        "messages": [
            {"role": "user", "content": "call it"},
            {"role": "assistant", "tool_calls": [{"function": {"name": "noargs"}}]},
            {
                "role": "assistant",
                "tool_calls": [{"function": {"name": "noargs", "arguments": {}}}],
            },
        ],
    },
}

# Templates that poke at Ollama's typed data model (struct fields, Stringers, JSON tags).
TYPED_TEMPLATES: dict[str, str] = {
    "typed-print-tools": "{{ .Tools }}|{{ json .Tools }}|{{ if .Tools }}T{{ else }}F{{ end }}|{{ len .Tools }}",
    "typed-tool-fields": """{{ range .Tools }}{{ .Type }} {{ .Function.Name }}: {{ .Function.Description }}
params={{ .Function.Parameters }}
props={{ .Function.Parameters.Properties }}
required={{ .Function.Parameters.Required }} {{ json .Function.Parameters.Required }}
{{ range $name, $p := .Function.Parameters.Properties }}- {{ $name }}: {{ $p.Type }} / {{ toTypeScriptType $p }} / {{ $p.Description }} / {{ $p.Enum }} / {{ json $p }}
{{ end }}{{ json .Function }}
{{ end }}""",
    "typed-missing-property": '{{ range .Tools }}{{ .Function.Parameters.Properties.nope }}|{{ index .Function.Parameters.Properties "nope" }}|{{ json .Function.Parameters.Properties.nope }}{{ end }}',
    "typed-message-print": "{{ range .Messages }}{{ . }}\n{{ end }}",
    "typed-message-json": "{{ json .Messages }}",
    "typed-tool-calls": """{{ range .Messages }}{{ range $i, $c := .ToolCalls }}{{ $i }}:{{ $c.ID }}:{{ $c.Function.Index }}:{{ $c.Function.Name }}:{{ $c.Function.Arguments }}:{{ json $c.Function.Arguments }}:{{ range $k, $v := $c.Function.Arguments }}{{ $k }}={{ $v }},{{ end }}:{{ $c.Function.Arguments.city }}:{{ json $c }}
{{ end }}{{ .ToolCalls }}|{{ json .ToolCalls }}|{{ .ToolName }}|{{ .ToolCallID }}|{{ .Images }}|{{ json .Images }}
{{ end }}""",
    "typed-unknown-field": "{{ range .Messages }}{{ .Foo }}{{ end }}",
    "typed-unknown-field-lower": "{{ range .Messages }}{{ .role }}{{ end }}",
    "typed-field-args": "{{ range .Messages }}{{ .Role 1 }}{{ end }}",
    "typed-think": "{{ .Think }}|{{ .ThinkLevel }}|{{ .IsThinkSet }}|{{ .System }}|{{ .Response }}|{{ .Prompt }}|{{ len .Messages }}",
    "typed-eq-struct": "{{ $m := index .Messages 0 }}{{ eq $m $m }}|{{ eq (index .Messages 0) (index .Messages 0) }}",
    "typed-slice-messages": "{{ range slice .Messages 1 }}{{ .Role }},{{ end }}|{{ len (slice .Messages 0 1) }}",
    "typed-string-method": "{{ range .Tools }}{{ .Function.Parameters.Properties.String }}{{ range .Function.Parameters.Properties }}{{ .ToTypeScriptType }}{{ .Type.String }}{{ end }}{{ end }}{{ .Tools.String }}{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments.String }}{{ end }}{{ end }}",
    "typed-method-args": "{{ .Tools.String 1 }}",
    "typed-template-no-pipe": '{{ define "x" }}X{{ end }}{{ template "x" }}',
    "typed-template-pipe": '{{ define "x" }}<{{ .Role }}>{{ end }}{{ range .Messages }}{{ template "x" . }}{{ end }}',
    "typed-eq-noncomparable": "{{ range .Tools }}{{ eq .Function .Function }}{{ end }}",
    "typed-eq-calls": "{{ range .Messages }}{{ range .ToolCalls }}{{ eq .Function .Function }}{{ end }}{{ end }}",
    "typed-printf-pointer": '{{ printf "%v|%+v|%s" (index .Messages 0) (index .Messages 0) (index .Messages 0).Images }}',
    "typed-images": '{{ range .Messages }}{{ range .Images }}{{ len . }}:{{ printf "%s" . }}:{{ index . 0 }};{{ end }}{{ end }}',
    "typed-args-missing-key": "{{ range .Messages }}{{ range .ToolCalls }}[{{ .Function.Arguments.nope }}]{{ end }}{{ end }}",
    "typed-nil-args": "{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments }}|{{ json .Function.Arguments }}|{{ len .Function.Arguments }}{{ end }}{{ end }}",
}

# Referencing .Messages selects Ollama's messages path (otherwise the legacy path runs).
TYPED_TEMPLATES = {k: "{{- if .Messages }}{{ end -}}" + v for k, v in TYPED_TEMPLATES.items()}

TYPED_CONVERSATIONS = ["user", "tools", "thinking", "images", "thinking-level"]
