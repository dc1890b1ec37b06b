"""Cases of Ollama's own tools/ unit tests (tools_test.go, template_test.go as read for
v0.33.0-rc2), shared by the Python port's tests and the Go conformance run."""

from __future__ import annotations

from typing import Any

QWEN = (
    '{{if .ToolCalls}}<tool_call>{{range .ToolCalls}}{"name": "{{.Function.Name}}", '
    '"arguments": {{.Function.Arguments}}}{{end}}</tool_call>{{end}}'
)
DEEPSEEK = (
    "{{if .ToolCalls}}<|tool▁calls▁begin|>{{range .ToolCalls}}<|tool▁call▁begin|>function<|tool▁sep|>"
    'get_current_weather\n```json\n{"location": "Tokyo"}\n```<|tool▁call▁end|>{{end}}'
    "<|tool▁calls▁end|><|end▁of▁sentence|>{{end}}"
)
JSON = (
    '{{if .ToolCalls}}{{range .ToolCalls}}{"name": "{{.Function.Name}}", '
    '"arguments": {{.Function.Arguments}}}{{end}}{{end}}'
)
MISTRAL = (
    '{{if .ToolCalls}}[TOOL_CALLS] [{{range .ToolCalls}}{"name": "{{.Function.Name}}", '
    '"arguments": {{.Function.Arguments}}}{{end}}][/TOOL_CALLS]{{end}}'
)
LIST = (
    '{{if .ToolCalls}}[{{range .ToolCalls}}{"name": "{{.Function.Name}}", '
    '"arguments": {{.Function.Arguments}}}{{end}}]{{end}}'
)
TEMPLATES = {"qwen": QWEN, "deepseek": DEEPSEEK, "json": JSON, "mistral": MISTRAL, "list": LIST}


def _tool(
    name: str,
    description: str,
    props: dict[str, Any] | None = None,
    required: list[str] | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"type": "object"}
    if required:
        params["required"] = required
    if props is not None:
        params["properties"] = props
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": params},
    }


TOOLS = [
    _tool(
        "get_temperature",
        "Retrieve the temperature for a given location",
        {
            "format": {
                "type": "string",
                "description": "The format to return the temperature in",
                "enum": ["fahrenheit", "celsius"],
            },
            "city": {"type": "string", "description": "The city to get the temperature for"},
        },
        ["city"],
    ),
    _tool(
        "get_conditions",
        "Retrieve the current weather conditions for a given location",
        {
            "location": {
                "type": "string",
                "description": "The location to get the weather conditions for",
            }
        },
    ),
    _tool("say_hello", "Say hello"),
    _tool("say_hello_world", "Say hello world"),
    _tool(
        "get_address",
        "Get the address of a given location",
        {"location": {"type": "string", "description": "The location to get the address for"}},
    ),
    _tool(
        "add",
        "Add two numbers",
        {
            "a": {"type": "string", "description": "The first number to add"},
            "b": {"type": "string", "description": "The second number to add"},
        },
    ),
]


def call(index: int, name: str, **arguments: Any) -> dict[str, Any]:
    return {"index": index, "name": name, "arguments": arguments}


_Q_COND = (
    '<tool_call>{"name": "get_conditions", "arguments": {"location": "San Francisco"}}</tool_call>'
)
# (name, template, chunks, content, calls): TestParser
PARSER_CASES: list[tuple[str, str, list[str], str, list[dict[str, Any]]]] = [
    (
        "no tool calls - just text",
        "qwen",
        ["Hello, how can I help you today?"],
        "Hello, how can I help you today?",
        [],
    ),
    ("empty input", "qwen", [""], "", []),
    ("tool call", "qwen", [_Q_COND], "", [call(0, "get_conditions", location="San Francisco")]),
    (
        "empty args",
        "qwen",
        ['<tool_call>{"name": "get_conditions", "arguments": {}}</tool_call>'],
        "",
        [call(0, "get_conditions")],
    ),
    (
        "text before tool call",
        "qwen",
        [
            'Let me check the weather. <tool_call>{"name": "get_temperature", "arguments": {"city": "New York"}}</tool_call>'
        ],
        "Let me check the weather. ",
        [call(0, "get_temperature", city="New York")],
    ),
    (
        "qwen no args with text",
        "qwen",
        ["Let me say hello to the user. I'll use the say_hello tool. "],
        "Let me say hello to the user. I'll use the say_hello tool. ",
        [],
    ),
    (
        "two tool calls in a list",
        "mistral",
        [
            '[TOOL_CALLS] [{"name": "get_temperature", "arguments": {"city": "London", "format": "fahrenheit"}}, '
            '{"name": "get_conditions", "arguments": {"location": "Tokyo"}}][/TOOL_CALLS]'
        ],
        "",
        [
            call(0, "get_temperature", city="London", format="fahrenheit"),
            call(1, "get_conditions", location="Tokyo"),
        ],
    ),
    (
        "qwen two tool calls",
        "qwen",
        [
            'Okay, let\'s call both tools! <tool_call>{"name": "get_temperature", "arguments": {"city": "London", '
            '"format": "fahrenheit"}}</tool_call><tool_call>{"name": "get_conditions", "arguments": {"location": "Tokyo"}}'
            "</tool_call>"
        ],
        "Okay, let's call both tools! ",
        [
            call(0, "get_temperature", city="London", format="fahrenheit"),
            call(1, "get_conditions", location="Tokyo"),
        ],
    ),
    (
        "empty args followed by args",
        "qwen",
        [
            'Let me say hello and check the weather. <tool_call>{"name": "say_hello", "arguments": {}}</tool_call>'
            '<tool_call>{"name": "get_temperature", "arguments": {"city": "London", "format": "fahrenheit"}}</tool_call>'
        ],
        "Let me say hello and check the weather. ",
        [call(0, "say_hello"), call(1, "get_temperature", city="London", format="fahrenheit")],
    ),
    (
        "qwen empty followed by args",
        "qwen",
        [
            'Let me check the weather. <tool_call>{"name": "get_conditions", "arguments": {}}</tool_call>'
            '<tool_call>{"name": "get_conditions", "arguments": {"location": "Tokyo"}}'
        ],
        "Let me check the weather. ",
        [call(0, "get_conditions"), call(1, "get_conditions", location="Tokyo")],
    ),
    (
        "deepseek",
        "deepseek",
        [
            "<think>Wait, I need to call a tool</think><|tool▁calls▁begin|><|tool▁call▁begin|>function<|tool▁sep|>"
            'get_temperature\n```json\n{"city": "Tokyo"}\n```<|tool▁call▁end|><|tool▁calls▁end|><|end▁of▁sentence|>'
        ],
        "<think>Wait, I need to call a tool</think>",
        [call(0, "get_temperature", city="Tokyo")],
    ),
    (
        "deepseek incremental",
        "deepseek",
        [
            "<think>Wait",
            ", I need",
            " to call",
            " a tool</think><|too",
            "l▁calls▁begin",
            "|>",
            "<|tool▁call▁begin|>function<|tool▁sep|>get_temperature\n",
            "```json\n",
            '{"city": "Tokyo"}\n',
            "```",
            "<|tool▁c",
            "all▁end|>",
            "<|tool▁calls▁end|>",
            "<|end▁of▁sentence|>",
        ],
        "<think>Wait, I need to call a tool</think>",
        [call(0, "get_temperature", city="Tokyo")],
    ),
    (
        "json",
        "json",
        ["{", '"name": "get_temperature",', '"arguments": {', '"city": "Tokyo"', "}", "}"],
        "",
        [call(0, "get_temperature", city="Tokyo")],
    ),
    (
        "json maybe a tool call",
        "json",
        ["{", '"name": "get_temperature",', '"arguments": {'],
        "",
        [],
    ),
    (
        "json not a tool call",
        "json",
        [
            "{",
            '"name": "search", ',
            '"arguments": {',
            '"query": "What is the capital of Canada?"',
            "}",
            "}",
        ],
        '{"name": "search", "arguments": {"query": "What is the capital of Canada?"}}',
        [],
    ),
    (
        "json object followed by tool call",
        "json",
        [
            '{"name": "jeff"}',
            '{"name": "get_conditions", "arguments": {"location": "San Francisco"}}',
        ],
        '{"name": "jeff"}{"name": "get_conditions", "arguments": {"location": "San Francisco"}}',
        [],
    ),
    (
        "json object followed by tool call split",
        "json",
        [
            '{"name": "jeff"} {',
            '"name": "get_conditions", "arguments": {"location": "San Francisco"}}',
        ],
        '{"name": "jeff"} {"name": "get_conditions", "arguments": {"location": "San Francisco"}}',
        [],
    ),
    ("json code", "json", ['for { fmt.Println("hello") }'], 'for { fmt.Println("hello") }', []),
    (
        "list multiple",
        "list",
        [
            "[",
            "{",
            '"name": "get_temperature", ',
            '"arguments": {',
            '"city": "London"',
            "}",
            "},",
            "{",
            '"name": "get_conditions", ',
            '"arguments": {',
            '"location": "Tokyo"',
            "}",
            "}]",
        ],
        "",
        [call(0, "get_temperature", city="London"), call(1, "get_conditions", location="Tokyo")],
    ),
    (
        "list partial",
        "list",
        ["[{", '"name": "get_conditions", ', '"arguments": {', '"location": "Tokyo"', "}", "}"],
        "",
        [call(0, "get_conditions", location="Tokyo")],
    ),
    (
        "list invalid",
        "list",
        [
            "[",
            "{",
            '"name": "search", ',
            '"arguments": {',
            '"query": "What is the capital of Canada?"',
            "}",
            "}",
        ],
        "",
        [],
    ),
    (
        "list trailing ]",
        "list",
        [
            "[",
            "{",
            '"name": "get_conditions", ',
            '"arguments": {',
            '"location": "Tokyo"',
            "}",
            "}",
            "]",
            "]",
        ],
        "",
        [call(0, "get_conditions", location="Tokyo")],
    ),
    ("list not a tool call", "list", ["[special", " del", "ivery]"], "[special delivery]", []),
    (
        "tool name with collision",
        "qwen",
        ["<tool_call>", "{", '"name": "say_hello', '_world",', '"arguments": {}}', "}"],
        "",
        [call(0, "say_hello_world")],
    ),
    (
        "tool name with collision multiple",
        "qwen",
        [
            "<tool_call>",
            "{",
            '"name": "say_hello',
            '_world",',
            '"arguments": {}}',
            "</tool_call>",
            "<tool_call>",
            "{",
            '"name": "say_hello',
            '",',
            '"arguments": {}}',
            "</tool_call>",
        ],
        "",
        [call(0, "say_hello_world"), call(1, "say_hello")],
    ),
    ("tool name with collision non streaming", "qwen", ['<tool_call>{"name": "say_hello'], "", []),
    (
        "tool name with collision non streaming multiple",
        "qwen",
        [
            '<tool_call>{"name": "say_hello", "arguments": {}}</tool_call><tool_call>{"name": "say_hello_world", '
            '"arguments": {}}'
        ],
        "",
        [call(0, "say_hello"), call(1, "say_hello_world")],
    ),
    (
        "tool name with collision non streaming shorter",
        "qwen",
        ['<tool_call>{"name": "say_hello", "arguments": {}}</tool_call>'],
        "",
        [call(0, "say_hello")],
    ),
    (
        "tool name with collision non streaming longer",
        "qwen",
        ['<tool_call>{"name": "say_hello_world", "arguments": {}}</tool_call>'],
        "",
        [call(0, "say_hello_world")],
    ),
    (
        "tool name with substring of another (json)",
        "json",
        ["{", '"name": "get_address",', '"arguments": {', '"location": "London"', "}", "}"],
        "",
        [call(0, "get_address", location="London")],
    ),
    (
        "tool name with substring of another (qwen)",
        "qwen",
        ['<tool_call>{"name": "get_address", "arguments": {"location": "London"}}</tool_call>'],
        "",
        [call(0, "get_address", location="London")],
    ),
    (
        "args before name",
        "qwen",
        ['<tool_call>{"arguments": {"a": "5", "b": "10"}, "name": "add"}</tool_call>'],
        "",
        [call(0, "add", a="5", b="10")],
    ),
]

# (name, tag, buffer, want): TestDone
DONE_CASES = [
    ("empty", "<tool_call>", "", False),
    ("json open", "{", '{"name": "get_weather"', False),
    ("json closed", "{", '{"name": "get_weather"}', True),
    ("json empty", "{", "{}", True),
    ("list open", "[", '[{"name": "get_weather"', False),
    ("list closed", "[", '[{"name": "get_weather"}]', True),
    ("list empty", "[", "[]", True),
]

# (name, tag, buffer, n, want): TestContent
CONTENT_CASES = [
    ("empty", "{", "", 0, ""),
    ("tag", "<tool_call>", '<tool_call>{"name": "get_temperature"', 0, ""),
    ("json object", "{", '{"name": "get_temperature"}', 0, '{"name": "get_temperature"}'),
    ("json object after called", "{", '{"hello": "world"}', 0, '{"hello": "world"}'),
    ("json object after called n=1", "{", '{"hello": "world"}', 1, ""),
    ("list", "[", '[{"name": "get_temperature"}]', 0, '[{"name": "get_temperature"}]'),
    ("code", "{", '{ fmt.Println("hello")', 0, '{ fmt.Println("hello")'),
]

# (name, buffer, tag, i, found): TestFindTag (indices in bytes)
FIND_TAG_CASES = [
    ("no overlap", "hello world", "<tool_call>", -1, False),
    ("full overlap", "<tool_call>", "<tool_call>", 0, True),
    ("whitespace", '    <tool_call>\n {"name": "bob"}', "<tool_call>", 4, True),
    ("over", '<tool_call>{"name"', "<tool_call>", 0, True),
    ("partial overlap", "text <tool_call>", "<tool_call>", 5, True),
    ("overlap with extra", "<tool_calls><tool_call>", "<tool_calls>", 0, True),
    ("delimiter longer than string", "<tool>", "<tool_call>", -1, False),
    ("empty string", "", "<tool_call>", -1, False),
    ("single char overlap", "test<", "<tool_call>", 4, False),
    ("partial tool call", "hello <tool_", "<tool_call>", 6, False),
    ("square bracket", "calling tools: [", "[", 15, True),
    ("bracket", '{"name": "bob"', "{", 0, True),
    ("bracket with whitespace", '\n\n{\n"name": "bob"', "{", 2, True),
]

_SF = {"format": "fahrenheit", "location": "San Francisco, CA"}
# (name, buffer, tool, want): TestFindArguments
FIND_ARGUMENTS_CASES: list[tuple[str, str, str, Any]] = [
    ("empty string", "", "", None),
    ("whitespace only", "   \n\t  ", "", None),
    (
        "unbalanced braces - missing closing",
        '{"format": "fahrenheit", "location": "San Francisco"',
        "",
        None,
    ),
    (
        "unbalanced braces - extra closing",
        '{"format": "fahrenheit"}}',
        "",
        {"format": "fahrenheit"},
    ),
    ("invalid JSON", '{format: fahrenheit, location: "San Francisco"}', "", None),
    (
        "valid json",
        '{"name": "get_temperature", "arguments": {"format": "fahrenheit", "location": "San Francisco, CA"}}',
        "",
        _SF,
    ),
    (
        "valid arguments with special tokens",
        '[tool]get_temperature[args]{"format": "fahrenheit", "location": "San Francisco, CA"}[end]',
        "",
        _SF,
    ),
    (
        "valid arguments in array",
        '[{"name": "get_temperature", "arguments": {"format": "fahrenheit", "location": "San Francisco, CA"}}',
        "",
        _SF,
    ),
    (
        "nested deep",
        '{"function": {"name": "get_temperature", "arguments": {"format": "fahrenheit", '
        '"location": "San Francisco, CA"}}}',
        "",
        _SF,
    ),
    (
        "one arg",
        'get_temperature({"location": "San Francisco, CA"})',
        "",
        {"location": "San Francisco, CA"},
    ),
    (
        "two args",
        '[{"name": "get_temperature", "arguments": {"location": "San Francisco, CA", "format": "fahrenheit"}}, '
        '{"name": "get_weather", "arguments": {"location": "San Francisco, CA", "format": "fahrenheit"}}]',
        "",
        {"location": "San Francisco, CA", "format": "fahrenheit"},
    ),
    (
        "deepseek",
        "<|tool▁calls▁begin|><|tool▁call▁begin|>function<|tool▁sep|>get_temperature\n```json\n"
        '{"location": "Tokyo"}\n```<|tool▁call▁end|><|tool▁calls▁end|><|end▁of▁sentence|>',
        "",
        {"location": "Tokyo"},
    ),
    ("deepseek tail", '"arguments": {"location": "Tokyo"}}</tool_call>', "", {"location": "Tokyo"}),
    (
        "string with braces",
        '{"name": "process_code", "arguments": {"code": "if (x > 0) { return true; }"}}',
        "",
        {"code": "if (x > 0) { return true; }"},
    ),
    (
        "string with nested json",
        '{"name": "send_data", "arguments": {"payload": "{\\"nested\\": {\\"key\\": \\"value\\"}}"}}',
        "",
        {"payload": '{"nested": {"key": "value"}}'},
    ),
    (
        "string with escaped quotes and braces",
        '{"name": "analyze", "arguments": {"text": "The JSON is: {\\"key\\": \\"val{ue}\\"}"}}',
        "",
        {"text": 'The JSON is: {"key": "val{ue}"}'},
    ),
    (
        "multiple objects with string containing braces",
        '{"name": "test", "arguments": {"query": "find } in text"}} {"name": "other"}',
        "",
        {"query": "find } in text"},
    ),
    (
        "unmatched closing brace in string",
        '{"name": "search", "arguments": {"pattern": "regex: }"}}',
        "",
        {"pattern": "regex: }"},
    ),
    (
        "complex nested with mixed braces",
        '{"name": "analyze", "arguments": {"data": "{\\"items\\": [{\\"value\\": \\"}\\"}, {\\"code\\": '
        '\\"if (x) { return y; }\\"}]}"}}',
        "",
        {"data": '{"items": [{"value": "}"}, {"code": "if (x) { return y; }"}]}'},
    ),
    (
        "string with newline and braces",
        '{"name": "format", "arguments": {"template": "{\\n  \\"key\\": \\"value\\"\\n}"}}',
        "",
        {"template": '{\n  "key": "value"\n}'},
    ),
    (
        "string with unicode escape",
        '{"name": "test", "arguments": {"text": "Unicode: \\u007B and \\u007D"}}',
        "",
        {"text": "Unicode: { and }"},
    ),
    (
        "array arguments",
        '{"name": "batch", "arguments": ["item1", "item2", "{\\"nested\\": true}"]}',
        "",
        None,
    ),
    (
        "escaped backslash before quote",
        '{"name": "path", "arguments": {"dir": "C:\\\\Program Files\\\\{App}\\\\"}}',
        "",
        {"dir": "C:\\Program Files\\{App}\\"},
    ),
    (
        "single quotes not treated as string delimiters",
        '{"name": "query", "arguments": {"sql": "SELECT * FROM users WHERE name = \'{admin}\'"}}',
        "",
        {"sql": "SELECT * FROM users WHERE name = '{admin}'"},
    ),
    ("incomplete json at buffer end", '{"name": "test", "arguments": {"data": "some {"', "", None),
    (
        "multiple escaped quotes",
        '{"name": "echo", "arguments": {"msg": "He said \\"Hello {World}\\" loudly"}}',
        "",
        {"msg": 'He said "Hello {World}" loudly'},
    ),
    (
        "json with comments style string",
        '{"name": "code", "arguments": {"snippet": "// This is a comment with { and }"}}',
        "",
        {"snippet": "// This is a comment with { and }"},
    ),
    (
        "consecutive escaped backslashes",
        '{"name": "test", "arguments": {"path": "C:\\\\\\\\{folder}\\\\\\\\"}}',
        "",
        {"path": "C:\\\\{folder}\\\\"},
    ),
    (
        "empty string with braces after",
        '{"name": "test", "arguments": {"a": "", "b": "{value}"}}',
        "",
        {"a": "", "b": "{value}"},
    ),
    (
        "unicode in key names",
        '{"name": "test", "arguments": {"key{": "value", "key}": "value2"}}',
        "",
        {"key{": "value", "key}": "value2"},
    ),
    (
        "very long string with braces",
        '{"name": "test", "arguments": {"data": "' + "a{b}c" * 100 + '"}}',
        "",
        {"data": "a{b}c" * 100},
    ),
    (
        "tab characters and braces",
        '{"name": "test", "arguments": {"code": "\\tif (true) {\\n\\t\\treturn;\\n\\t}"}}',
        "",
        {"code": "\tif (true) {\n\t\treturn;\n\t}"},
    ),
    (
        "null byte in string",
        '{"name": "test", "arguments": {"data": "before\\u0000{after}"}}',
        "",
        {"data": "before\x00{after}"},
    ),
    (
        "escaped quote at end of string",
        '{"name": "test", "arguments": {"data": "text with quote at end\\\\\\""}}',
        "",
        {"data": 'text with quote at end\\"'},
    ),
    (
        "mixed array and object in arguments",
        '{"name": "test", "arguments": {"items": ["{", "}", {"key": "value"}]}}',
        "",
        {"items": ["{", "}", {"key": "value"}]},
    ),
    (
        "stringified arguments",
        '{"name": "get_temperature", "arguments": "{\\"format\\": \\"fahrenheit\\", '
        '\\"location\\": \\"San Francisco, CA\\"}"}',
        "",
        _SF,
    ),
    (
        "stringified parameters",
        '{"name": "get_temperature", "parameters": "{\\"format\\": \\"fahrenheit\\", '
        '\\"location\\": \\"San Francisco, CA\\"}"}',
        "",
        _SF,
    ),
    (
        "simple tool call",
        '{"get_temperature": {"format": "fahrenheit", "location": "San Francisco, CA"}}',
        "get_temperature",
        _SF,
    ),
    (
        "stringified simple tool call",
        '{"get_temperature": "{\\"format\\": \\"fahrenheit\\", '
        '\\"location\\": \\"San Francisco, CA\\"}"}',
        "get_temperature",
        _SF,
    ),
]

# (name, template, tag): TestParseTag
PARSE_TAG_CASES = [
    ("empty", "", "{"),
    ("no tag", "{{if .ToolCalls}}{{end}}", "{"),
    ("no tag with range", "{{if .ToolCalls}}{{range .ToolCalls}}{{ . }}{{end}}{{end}}", "{"),
    ("tool call with json format", "{{if .ToolCalls}}```json\n{{end}}", "```json"),
    ("square brackets", "{{if .ToolCalls}}[{{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "["),
    (
        "square brackets with whitespace",
        "{{if .ToolCalls}}\n [ {{range .ToolCalls}}{{ . }}{{end}}]{{end}}",
        "[",
    ),
    ("tailing ]", "{{if .ToolCalls}}{{range .ToolCalls}}{{ . }}{{end}}]{{end}}", "{"),
    ("whitespace only", "{{if .ToolCalls}} {{range .ToolCalls}}{{ . }}{{end}}{{end}}", "{"),
    (
        "whitespace only in range",
        "{{if .ToolCalls}}{{range .ToolCalls}}\n{{ . }}\n{{end}}{{end}}",
        "{",
    ),
    (
        "json objects",
        '{{if .ToolCalls}}{{range .ToolCalls}}{"name": "{{ .Function.Name }}", '
        '"arguments": {{ .Function.Arguments }}}{{end}}{{end}}',
        "{",
    ),
    (
        "json objects with whitespace",
        '{{if .ToolCalls}}{{range .ToolCalls}}\n{"name": "{{ .Function.Name }}", '
        '"arguments": {{ .Function.Arguments }}}{{end}}{{end}}',
        "{",
    ),
    (
        "json objects with CRLF",
        '{{if .ToolCalls}}{{range .ToolCalls}}\r\n{"name": "{{ .Function.Name }}", '
        '"arguments": {{ .Function.Arguments }}}{{end}}{{end}}',
        "{",
    ),
    (
        "json objects with whitespace before and after range",
        '{{if .ToolCalls}}\n{{range .ToolCalls}}\n{"name": '
        '"{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}\r\n{{end}}\r\n{{end}}',
        "{",
    ),
    (
        "before and after range",
        "{{if .ToolCalls}}<|tool▁calls▁begin|>{{range .ToolCalls}}<|tool▁call▁begin|>"
        'functionget_current_weather\n```json\n{"location": "Tokyo"}\n```<|tool▁call▁end|>\n{{end}}'
        "<|tool▁calls▁end|>{{end}}",
        "<|tool▁calls▁begin|>",
    ),
    (
        "after range",
        '{{if .ToolCalls}}{{range .ToolCalls}}<tool_call>{"name": "{{ .Function.Name }}", "arguments": '
        "{{ .Function.Arguments }}}</tool_call>{{end}}{{end}}",
        "<tool_call>",
    ),
    (
        "after range with leading whitespace before range",
        '{{if .ToolCalls}}\n{{range .ToolCalls}}<tool_call>{"name": '
        '"{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}</tool_call>{{end}}{{end}}',
        "<tool_call>",
    ),
    (
        "tool call in range with {",
        '{{if .ToolCalls}}{{range .ToolCalls}}<tool_call>{"name": "{{ .Function.Name }}", '
        '"arguments": {{ .Function.Arguments }}}<tool_call>{{end}}{{end}}',
        "<tool_call>",
    ),
    (
        "tool call with multiple text nodes",
        "{{if .ToolCalls}}First text{{if .Something}}inner{{end}}Second text{{end}}",
        "First text",
    ),
    ("action tag", "{{if .ToolCalls}}Action: ```json{{end}}", "Action: ```json"),
    ("incomplete functools bracket", "{{if .ToolCalls}}functools[{{end}}", "functools["),
    (
        "uppercase tool call with incomplete bracket",
        "{{if .ToolCalls}}[TOOL_CALL] [{{end}}",
        "[TOOL_CALL] [",
    ),
    (
        "uppercase tool call with adjacent bracket",
        "{{if .ToolCalls}}[TOOL_CALL][{{end}}",
        "[TOOL_CALL][",
    ),
]
