"""The Responses API (`client.responses.*`) through the official `openai` SDK, and the OpenAI
Agents SDK with its default (Responses) model, against:

- the built-in mock (tests/sdk/config.yaml: `sdk-chat`, a translated deployment),
- the Anthropic adapter (tests/sdk/config-translate.yaml: `claude`, translated twice),
- a native deployment (config-translate.yaml: `gpt-native`, `supported_endpoints` has
  /v1/responses; the mock upstream of tests/sdk/upstream.py answers /v1/responses from
  tests/fixtures/responses/).

Every client is built with max_retries=0, so each test sees exactly one gateway answer.
"""

from __future__ import annotations

import asyncio
import json

import openai
import pydantic
import pytest

MASTER_KEY = "sk-sdk-master"
VIRTUAL_KEY = "sk-sdk-team-chat-only"
MOCK_MODEL = "sdk-chat"
MOCK_RESPONSE = "Switchyard speaks the OpenAI wire format, chunk by chunk."
CLAUDE = "claude"
NATIVE = "gpt-native"
ANTHROPIC_TEXT = "Hello! How can I help you today?"

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _client(base_url: str, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=20.0)


@pytest.fixture(scope="module")
def mock(gateway_url):
    with _client(gateway_url) as c:
        yield c


@pytest.fixture(scope="module")
def translating(translating_gateway_url):
    with _client(translating_gateway_url) as c:
        yield c


# --- translated: the built-in mock ----------------------------------------------------------


def test_create_text(mock):
    r = mock.responses.create(model=MOCK_MODEL, input="Say something.", instructions="Be brief.")
    assert r.object == "response"
    assert r.id.startswith("resp_")
    assert r.status == "completed"
    assert r.output_text == MOCK_RESPONSE
    assert r.output[0].type == "message" and r.output[0].role == "assistant"
    assert r.instructions == "Be brief."
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens > 0


def test_stream_events_in_order(mock):
    types, text, seqs = [], "", []
    with mock.responses.stream(model=MOCK_MODEL, input="Say something.") as stream:
        for event in stream:
            types.append(event.type)
            seqs.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = stream.get_final_response()
    assert seqs == list(range(len(seqs)))
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types.count("response.output_text.delta") > 1  # forwarded token by token
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert text == MOCK_RESPONSE == final.output_text
    assert final.usage.output_tokens > 0


def test_function_tool_round_trip(mock):
    first = mock.responses.create(
        model=MOCK_MODEL, input="Please call get_weather for Paris.", tools=[WEATHER_TOOL]
    )
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert calls[0].call_id and json.loads(calls[0].arguments) == {"city": "mock"}
    # The caller runs the tool and continues the stored conversation.
    second = mock.responses.create(
        model=MOCK_MODEL,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}],
        tools=[WEATHER_TOOL],
    )
    assert second.output_text == MOCK_RESPONSE
    assert second.previous_response_id == first.id
    items = mock.responses.input_items.list(second.id, order="asc").data
    assert [i.type for i in items] == ["message", "function_call", "function_call_output"]


def test_streamed_function_call(mock):
    with mock.responses.stream(
        model=MOCK_MODEL, input="Call get_weather now.", tools=[WEATHER_TOOL]
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.function_call_arguments.delta"]
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call" and call.status == "completed"
    assert len(deltas) > 1 and "".join(deltas) == call.arguments
    assert json.loads(call.arguments) == {"city": "mock"}


class Weather(pydantic.BaseModel):
    city: str
    degrees: int
    sunny: bool


def test_parse_json_schema(mock):
    r = mock.responses.parse(model=MOCK_MODEL, input="Weather in Paris?", text_format=Weather)
    assert isinstance(r.output_parsed, Weather)
    assert r.output_parsed.city and isinstance(r.output_parsed.degrees, int)


def test_previous_response_id_retrieve_delete(mock):
    first = mock.responses.create(model=MOCK_MODEL, input="Remember the word zebra.")
    got = mock.responses.retrieve(first.id)
    assert got.id == first.id and got.output_text == first.output_text
    second = mock.responses.create(model=MOCK_MODEL, input="Which word?", previous_response_id=first.id)
    items = mock.responses.input_items.list(second.id, order="asc").data
    assert [i.role for i in items] == ["user", "assistant", "user"]
    mock.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        mock.responses.retrieve(first.id)
    with pytest.raises(openai.BadRequestError) as info:
        mock.responses.create(model=MOCK_MODEL, input="again", previous_response_id=first.id)
    assert info.value.body["param"] == "previous_response_id"


def test_store_false_is_not_kept(mock):
    r = mock.responses.create(model=MOCK_MODEL, input="Forget me.", store=False)
    assert r.store is False
    with pytest.raises(openai.NotFoundError):
        mock.responses.retrieve(r.id)


def test_another_key_cannot_read(gateway_url, mock):
    r = mock.responses.create(model=MOCK_MODEL, input="Mine.")
    with _client(gateway_url, VIRTUAL_KEY) as other:
        with pytest.raises(openai.NotFoundError):
            other.responses.retrieve(r.id)


def test_errors_are_sdk_exceptions(gateway_url, mock):
    with pytest.raises(openai.BadRequestError) as info:
        mock.responses.create(model="no-such-model", input="hi")
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as info:
        mock.responses.create(model=MOCK_MODEL, input="hi", tools=[{"type": "web_search_preview"}])
    assert "web_search_preview" in info.value.message
    with pytest.raises(openai.RateLimitError):
        mock.responses.create(model="sdk-429", input="hi")
    with pytest.raises(openai.InternalServerError):
        mock.responses.create(model="sdk-503", input="hi")
    with _client(gateway_url, "sk-wrong") as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.responses.create(model=MOCK_MODEL, input="hi")
    with _client(gateway_url, VIRTUAL_KEY) as limited:
        with pytest.raises(openai.PermissionDeniedError):
            limited.responses.create(model="sdk-500", input="hi")


# --- translated: the Anthropic adapter ------------------------------------------------------


def test_anthropic_text_and_stream(translating, upstream):
    r = translating.responses.create(model=CLAUDE, input="Hello", instructions="You are terse.")
    assert r.output_text == ANTHROPIC_TEXT
    assert (r.usage.input_tokens, r.usage.output_tokens) == (12, 9)
    sent = upstream.last("/v1/messages")
    assert sent.body["system"] == "You are terse."
    with translating.responses.stream(model=CLAUDE, input="Hello") as stream:
        final = stream.get_final_response()
    assert final.output_text == ANTHROPIC_TEXT and final.status == "completed"


def test_anthropic_tool_calls_round_trip(translating, upstream):
    r = translating.responses.create(model=CLAUDE, input="Weather?", tools=[WEATHER_TOOL])
    calls = [o for o in r.output if o.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather", "get_weather"]
    follow = translating.responses.create(
        model=CLAUDE,
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls],
        tools=[WEATHER_TOOL],
    )
    assert follow.output
    sent = upstream.last("/v1/messages").body["messages"]
    results = [b for m in sent if m["role"] == "user" and isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_result"]
    assert [b["tool_use_id"] for b in results] == [c.call_id for c in calls]


# --- native pass-through ----------------------------------------------------------------------


def test_native_create_passes_through(translating, upstream):
    r = translating.responses.create(model=NATIVE, input="Hello", metadata={"k": "v"})
    assert r.id == "resp_native_fixture"
    assert r.output_text == "Native hello."
    sent = upstream.last("/v1/responses")
    assert sent.body["model"] == "gpt-4.1-upstream"
    assert sent.body["input"] == "Hello" and sent.body["metadata"] == {"k": "v"}
    assert sent.headers["authorization"] == "Bearer sk-openai-sdk-deployment"


def test_native_stream_passes_through(translating):
    with translating.responses.stream(model=NATIVE, input="Hello") as stream:
        types = [e.type for e in stream]
        final = stream.get_final_response()
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert final.output_text == "Native hello."


def test_native_follow_up_keeps_affinity(translating, upstream):
    first = translating.responses.create(model=NATIVE, input="Hello")
    translating.responses.create(model=NATIVE, input="Again", previous_response_id=first.id)
    sent = upstream.last("/v1/responses")
    # The deployment that made it has the conversation: the id goes as received.
    assert sent.body["previous_response_id"] == first.id
    assert sent.body["input"] == "Again"
    assert translating.responses.retrieve(first.id).id == first.id


def test_native_built_in_tool_passes(translating, upstream):
    translating.responses.create(model=NATIVE, input="News?", tools=[{"type": "web_search_preview"}])
    assert upstream.last("/v1/responses").body["tools"] == [{"type": "web_search_preview"}]


# --- the OpenAI Agents SDK (default model: Responses) -----------------------------------------


def test_agents_sdk_runner_with_function_tool(gateway_url):
    agents = pytest.importorskip("agents")
    seen = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return f"sunny in {city}"

    client = openai.AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)
    model = agents.OpenAIResponsesModel(model=MOCK_MODEL, openai_client=client)
    agent = agents.Agent(name="weather", instructions="Use tools.", tools=[get_weather], model=model)
    agents.set_tracing_disabled(True)
    result = asyncio.run(agents.Runner.run(agent, "Please call get_weather for Paris."))
    assert seen == ["mock"]
    assert result.final_output == MOCK_RESPONSE


def test_agents_sdk_run_streamed(gateway_url):
    agents = pytest.importorskip("agents")

    async def run() -> tuple[str, list[str]]:
        client = openai.AsyncOpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)
        model = agents.OpenAIResponsesModel(model=MOCK_MODEL, openai_client=client)
        agent = agents.Agent(name="plain", instructions="Answer.", model=model)
        result = agents.Runner.run_streamed(agent, "Say something.")
        deltas = []
        async for event in result.stream_events():
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                deltas.append(event.data.delta)
        return result.final_output, deltas

    agents.set_tracing_disabled(True)
    final, deltas = asyncio.run(run())
    assert final == MOCK_RESPONSE
    assert "".join(deltas) == MOCK_RESPONSE and len(deltas) > 1


# --- two replicas sharing Redis -----------------------------------------------------------------


def test_previous_response_id_across_two_gateways_sharing_redis(redis_gateway_urls):
    first_url, second_url = redis_gateway_urls
    with _client(first_url) as a, _client(second_url) as b:
        first = a.responses.create(model=MOCK_MODEL, input="Remember the word zebra.")
        # The other replica finds it: GET, and a follow-up that continues the conversation.
        assert b.responses.retrieve(first.id).output_text == first.output_text
        second = b.responses.create(model=MOCK_MODEL, input="Which word?", previous_response_id=first.id)
        items = a.responses.input_items.list(second.id, order="asc").data
        assert [i.role for i in items] == ["user", "assistant", "user"]
        assert items[0].content[0].text == "Remember the word zebra."
        # Deleted on one replica, gone on both.
        b.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            a.responses.retrieve(first.id)
