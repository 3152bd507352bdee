"""Translation end to end with the official SDKs, against the release binary:

- the Python `openai` SDK calling an `anthropic/` deployment (the mock upstream speaks Anthropic);
- the Python `anthropic` SDK calling the `/v1/messages` front door, routed to an `openai/`
  deployment (the mock speaks OpenAI) and to the `anthropic/` one.

Non-stream and stream, with tools. The answers come from tests/fixtures/{anthropic,openai}/
(see tests/sdk/upstream.py); the constants below mirror those fixtures.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

MASTER_KEY = "sk-sdk-master"
CLAUDE = "claude"  # anthropic/ deployment
GPT = "gpt-tools"  # openai/ deployment
TEXT = "Hello! How can I help you today?"
TOOL_TEXT = "I'll check the weather in both cities."
CALLS = [
    ("toolu_01A09q90qw90lq917835lq9", {"location": "Paris", "unit": "celsius"}),
    ("toolu_01B8wq8e7r8t7y6u5i4o3p2", {"location": "Tokyo", "unit": "celsius"}),
]
OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
]
ANTHROPIC_TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather in a city",
        "input_schema": OPENAI_TOOLS[0]["function"]["parameters"],
    }
]
QUESTION = "What's the weather in Paris and Tokyo?"


@pytest.fixture(scope="module")
def oa(translating_gateway_url):
    with openai.OpenAI(
        base_url=f"{translating_gateway_url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=20.0
    ) as c:
        yield c


@pytest.fixture(scope="module")
def ant(translating_gateway_url):
    with anthropic.Anthropic(
        base_url=translating_gateway_url, api_key=MASTER_KEY, max_retries=0, timeout=20.0
    ) as c:
        yield c


# --- the openai SDK against an Anthropic upstream ----------------------------------------------


def test_openai_sdk_text_from_anthropic(oa, upstream):
    completion = oa.chat.completions.create(
        model=CLAUDE,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello"},
        ],
        stop=["END"],
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == TEXT
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 9)
    sent = upstream.last("/v1/messages")
    assert sent.headers["x-api-key"] == "sk-ant-sdk-deployment"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["model"] == "claude-sonnet-4-5-20250929"
    assert sent.body["system"] == "You are terse."
    assert sent.body["messages"] == [{"role": "user", "content": "Hello"}]
    assert sent.body["stop_sequences"] == ["END"]
    assert sent.body["max_tokens"] == 4096


def test_openai_sdk_tool_calls_from_anthropic(oa, upstream):
    completion = oa.chat.completions.create(
        model=CLAUDE, messages=[{"role": "user", "content": QUESTION}], tools=OPENAI_TOOLS
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == TOOL_TEXT
    got = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls]
    assert got == [(i, "get_weather", args) for i, args in CALLS]
    assert upstream.last("/v1/messages").body["tools"][0]["input_schema"]["required"] == ["location"]


def test_openai_sdk_streamed_tool_calls_from_anthropic(oa):
    stream = oa.chat.completions.create(
        model=CLAUDE,
        messages=[{"role": "user", "content": QUESTION}],
        tools=OPENAI_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, calls, finish, usage = "", {}, None, None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                if call.id is not None:
                    assert call.index not in calls
                    calls[call.index] = [call.id, call.function.name, ""]
                calls[call.index][2] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    assert text == TOOL_TEXT
    assert finish == "tool_calls"
    got = [(i, name, json.loads(args)) for i, name, args in (calls[k] for k in sorted(calls))]
    assert got == [(i, "get_weather", args) for i, args in CALLS]
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (410, 120, 530)


def test_openai_sdk_anthropic_overload_is_a_503(oa):
    with pytest.raises(openai.APIStatusError) as info:
        oa.chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "overload"}])
    assert info.value.status_code == 503
    assert info.value.type == "api_error"
    assert info.value.code == "overloaded_error"


# --- the anthropic SDK against /v1/messages ----------------------------------------------------


def test_anthropic_sdk_text_from_openai(ant, upstream):
    message = ant.messages.create(
        model=GPT,
        max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert isinstance(message, anthropic.types.Message)
    assert message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == TEXT
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 9)
    sent = upstream.last("/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer sk-openai-sdk-deployment"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello"},
    ]
    assert sent.body["max_tokens"] == 100


def test_anthropic_sdk_tool_use_from_openai(ant):
    message = ant.messages.create(
        model=GPT, max_tokens=256, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": QUESTION}]
    )
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == TOOL_TEXT
    assert [(b.id, b.name, b.input) for b in message.content[1:]] == [
        (i, "get_weather", args) for i, args in CALLS
    ]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (410, 120)


def test_anthropic_sdk_streamed_tool_use_from_openai(ant, upstream):
    with ant.messages.stream(
        model=GPT, max_tokens=256, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == TOOL_TEXT
    assert message.stop_reason == "tool_use"
    assert [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"] == [
        (i, "get_weather", args) for i, args in CALLS
    ]
    assert message.usage.output_tokens == 120
    assert upstream.last("/v1/chat/completions").body["stream"] is True


def test_anthropic_sdk_raw_event_order(ant):
    events = list(
        ant.messages.create(
            model=GPT,
            max_tokens=256,
            tools=ANTHROPIC_TOOLS,
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e for e in events if e.type == "content_block_start"]
    assert [(e.index, e.content_block.type) for e in starts] == [(0, "text"), (1, "tool_use"), (2, "tool_use")]
    # Every block is closed before the next one opens.
    open_block = None
    for e in events:
        if e.type == "content_block_start":
            assert open_block is None
            open_block = e.index
        elif e.type == "content_block_delta":
            assert e.index == open_block
        elif e.type == "content_block_stop":
            assert e.index == open_block
            open_block = None


def test_anthropic_sdk_streamed_from_anthropic(ant):
    with ant.messages.stream(
        model=CLAUDE, max_tokens=256, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": QUESTION}]
    ) as stream:
        message = stream.get_final_message()
    assert message.id == "msg_01Aq9w938a90dw8q"
    assert message.content[0].text == TOOL_TEXT
    assert [(b.id, b.input) for b in message.content[1:]] == CALLS
    assert message.stop_reason == "tool_use"


def test_anthropic_sdk_count_tokens(ant, upstream):
    # An OpenAI deployment cannot count: an estimate.
    count = ant.messages.count_tokens(
        model=GPT, system="You are terse.", messages=[{"role": "user", "content": QUESTION}]
    )
    assert count.input_tokens > 0
    # An Anthropic deployment counts itself.
    count = ant.messages.count_tokens(
        model=CLAUDE, system="You are terse.", messages=[{"role": "user", "content": QUESTION}]
    )
    assert count.input_tokens == 17
    sent = upstream.last("/v1/messages/count_tokens")
    assert sent.body["model"] == "claude-sonnet-4-5-20250929"
    assert sent.body["system"] == "You are terse."


def test_anthropic_sdk_errors(translating_gateway_url, ant):
    with anthropic.Anthropic(base_url=translating_gateway_url, api_key="wrong", max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError) as info:
            bad.messages.create(model=GPT, max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    assert info.value.body["error"]["type"] == "authentication_error"

    with pytest.raises(anthropic.BadRequestError) as info:
        ant.messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert "no-such-model" in info.value.body["error"]["message"]

    with pytest.raises(anthropic.APIStatusError) as info:
        ant.messages.create(model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "overload"}])
    assert info.value.status_code == 503
    assert info.value.body["error"]["type"] == "overloaded_error"
