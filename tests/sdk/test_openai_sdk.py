"""Conformance of the gateway with the official Python `openai` SDK.

Every client is built with max_retries=0, so each test sees exactly one gateway answer.
The constants below mirror tests/sdk/config.yaml.
"""

from __future__ import annotations

import uuid

import openai
import pytest

MASTER_KEY = "sk-sdk-master"
VIRTUAL_KEY = "sk-sdk-team-chat-only"  # may use CHAT_MODEL only
CHAT_MODEL = "sdk-chat"
CHAT_UPSTREAM_MODEL = "sdk-chat-upstream"  # the mock's `model`; answers are passed through
MOCK_RESPONSE = "Switchyard speaks the OpenAI wire format, chunk by chunk."
EMBED_MODEL = "sdk-embed"
EMBED_DIMS = 24
RATE_LIMITED_MODEL = "sdk-429"
RETRY_AFTER_SECONDS = "7"
FAILING_500_MODEL = "sdk-500"
FAILING_503_MODEL = "sdk-503"
ALL_MODELS = [CHAT_MODEL, RATE_LIMITED_MODEL, FAILING_500_MODEL, FAILING_503_MODEL, EMBED_MODEL]

MESSAGES = [{"role": "user", "content": "Say something about gateways."}]


def _client(base_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=20.0)


@pytest.fixture(scope="session")
def client(gateway_url):
    with _client(gateway_url, MASTER_KEY) as c:
        yield c


@pytest.fixture(scope="session")
def vkey_client(gateway_url):
    with _client(gateway_url, VIRTUAL_KEY) as c:
        yield c


def _request_id() -> str:
    return f"sdk-test-{uuid.uuid4().hex}"


def _assert_error(e: openai.APIStatusError, status: int, err_type: str, rid: str) -> None:
    """Common checks of an OpenAI-shaped error answer: status, body shape, request id echo."""
    assert e.status_code == status
    assert e.response.status_code == status
    assert isinstance(e.body, dict), f"error body is not the OpenAI error object: {e.body!r}"
    assert set(e.body) >= {"message", "type", "param", "code"}, e.body
    assert e.type == err_type, e.body
    assert isinstance(e.body["message"], str) and e.body["message"], e.body
    assert isinstance(e.code, str) and e.code, e.body
    assert e.response.headers.get("x-request-id") == rid
    assert e.request_id == rid


# --- chat completions ---------------------------------------------------------------------------


def test_chat_non_stream(client):
    rid = _request_id()
    raw = client.chat.completions.with_raw_response.create(
        model=CHAT_MODEL, messages=MESSAGES, extra_headers={"x-request-id": rid}
    )
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == rid
    completion = raw.parse()
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.model == CHAT_UPSTREAM_MODEL
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == MOCK_RESPONSE
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_chat_stream_with_usage(client):
    rid = _request_id()
    with client.chat.completions.with_streaming_response.create(
        model=CHAT_MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-request-id": rid},
    ) as response:
        assert response.status_code == 200
        assert response.headers["x-request-id"] == rid
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = list(response.parse())

    assert chunks, "no chunks"
    content_chunks = [c for c in chunks if c.choices]
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert all(c.model == CHAT_UPSTREAM_MODEL for c in chunks)
    assert len({c.id for c in chunks}) == 1, "all chunks of one completion share its id"

    text = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    assert text == MOCK_RESPONSE
    assert len([c for c in content_chunks if c.choices[0].delta.content]) > 1, "answer was not streamed in pieces"

    finishes = [c.choices[0].finish_reason for c in content_chunks if c.choices[0].finish_reason is not None]
    assert finishes == ["stop"]

    assert len(usage_chunks) == 1, f"expected exactly one usage chunk, got {len(usage_chunks)}"
    usage_chunk = usage_chunks[0]
    assert usage_chunk.choices == []
    assert usage_chunk is chunks[-1], "the usage chunk comes last, after the finish chunk"
    assert usage_chunk.usage.total_tokens > 0
    assert usage_chunk.usage.completion_tokens > 0
    assert usage_chunk.usage.total_tokens == usage_chunk.usage.prompt_tokens + usage_chunk.usage.completion_tokens


def test_chat_stream_without_usage(client):
    stream = client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, stream=True)
    chunks = list(stream)
    assert chunks
    assert all(c.usage is None for c in chunks), "usage chunk sent although include_usage was not asked"
    assert all(c.choices for c in chunks), "a chunk with no choices (usage-only chunk) leaked through"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == MOCK_RESPONSE
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_with_virtual_key_on_its_model(vkey_client):
    completion = vkey_client.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES)
    assert completion.choices[0].message.content == MOCK_RESPONSE


# --- models -------------------------------------------------------------------------------------


def test_models_list(client):
    rid = _request_id()
    raw = client.models.with_raw_response.list(extra_headers={"x-request-id": rid})
    assert raw.headers["x-request-id"] == rid
    models = list(raw.parse())
    ids = [m.id for m in models]
    assert sorted(ids) == sorted(ALL_MODELS)
    assert all(m.object == "model" for m in models)


def test_models_list_virtual_key_sees_only_its_model(vkey_client):
    ids = [m.id for m in vkey_client.models.list()]
    assert ids == [CHAT_MODEL]


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_single(client):
    rid = _request_id()
    raw = client.embeddings.with_raw_response.create(
        model=EMBED_MODEL, input="switchyard", encoding_format="float", extra_headers={"x-request-id": rid}
    )
    assert raw.headers["x-request-id"] == rid
    result = raw.parse()
    assert result.object == "list"
    assert len(result.data) == 1
    vec = result.data[0].embedding
    assert result.data[0].index == 0
    assert len(vec) == EMBED_DIMS
    assert all(isinstance(x, float) for x in vec)
    assert any(x != 0.0 for x in vec)
    assert result.usage.prompt_tokens > 0


def test_embeddings_batch_default_encoding(client):
    # Without encoding_format the SDK asks for base64 and decodes it, or takes floats as they come.
    result = client.embeddings.create(model=EMBED_MODEL, input=["one", "two", "three"])
    assert [d.index for d in result.data] == [0, 1, 2]
    assert all(len(d.embedding) == EMBED_DIMS for d in result.data)
    assert result.data[0].embedding != result.data[1].embedding, "different inputs, same vector"


# --- errors: SDK exception classes --------------------------------------------------------------


def test_unknown_model_is_bad_request(client):
    rid = _request_id()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="no-such-model", messages=MESSAGES, extra_headers={"x-request-id": rid}
        )
    e = info.value
    _assert_error(e, 400, "invalid_request_error", rid)
    assert e.code == "model_not_found"
    assert e.body["code"] == "model_not_found"
    assert "no-such-model" in e.body["message"]
    assert CHAT_MODEL in e.body["message"], "the message lists the available models"


def test_wrong_key_is_authentication_error(gateway_url):
    rid = _request_id()
    with _client(gateway_url, "sk-not-a-real-key") as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.chat.completions.create(model=CHAT_MODEL, messages=MESSAGES, extra_headers={"x-request-id": rid})
    _assert_error(info.value, 401, "authentication_error", rid)
    assert "sk-not-a-real-key" not in info.value.response.text, "the key is echoed back"


def test_wrong_key_on_models_is_authentication_error(gateway_url):
    with _client(gateway_url, "sk-not-a-real-key") as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.models.list()
    assert info.value.status_code == 401


def test_virtual_key_other_model_is_permission_denied(vkey_client):
    rid = _request_id()
    with pytest.raises(openai.PermissionDeniedError) as info:
        vkey_client.chat.completions.create(
            model=RATE_LIMITED_MODEL, messages=MESSAGES, extra_headers={"x-request-id": rid}
        )
    _assert_error(info.value, 403, "permission_error", rid)


def test_virtual_key_other_model_embeddings_is_permission_denied(vkey_client):
    with pytest.raises(openai.PermissionDeniedError) as info:
        vkey_client.embeddings.create(model=EMBED_MODEL, input="x", encoding_format="float")
    assert info.value.status_code == 403
    assert info.value.type == "permission_error"


def test_unknown_route_is_not_found(client):
    rid = _request_id()
    with pytest.raises(openai.NotFoundError) as info:
        client.get("/no-such-route", cast_to=object, options={"headers": {"x-request-id": rid}})
    e = info.value
    _assert_error(e, 404, "not_found_error", rid)
    assert e.request.url.path == "/v1/no-such-route"


def test_oversized_body_is_413(client):
    rid = _request_id()
    big = [{"role": "user", "content": "x" * 50_000}]
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=CHAT_MODEL, messages=big, extra_headers={"x-request-id": rid})
    e = info.value
    _assert_error(e, 413, "invalid_request_error", rid)
    assert e.code == "request_too_large"


def test_normal_body_under_limit_passes(client):
    # ~10 KB: under the 20 KiB limit of tests/sdk/config.yaml.
    messages = [{"role": "user", "content": "y" * 10_000}]
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=messages)
    assert completion.choices[0].message.content == MOCK_RESPONSE


def test_upstream_429_is_rate_limit_error(client):
    rid = _request_id()
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model=RATE_LIMITED_MODEL, messages=MESSAGES, extra_headers={"x-request-id": rid}
        )
    e = info.value
    _assert_error(e, 429, "rate_limit_error", rid)
    assert e.response.headers.get("retry-after") == RETRY_AFTER_SECONDS


@pytest.mark.parametrize("model, status", [(FAILING_500_MODEL, 500), (FAILING_503_MODEL, 503)])
def test_upstream_5xx_is_internal_server_error(client, model, status):
    rid = _request_id()
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model=model, messages=MESSAGES, extra_headers={"x-request-id": rid})
    e = info.value
    _assert_error(e, status, "api_error", rid)
    # The upstream's own answer passes through: its message, not a gateway-made one.
    assert "mock failure" in e.message


def test_upstream_5xx_on_stream_is_internal_server_error(client):
    # Nothing was sent yet, so a failing stream is a plain HTTP error, not an in-band event.
    with pytest.raises(openai.InternalServerError) as info:
        for _ in client.chat.completions.create(model=FAILING_503_MODEL, messages=MESSAGES, stream=True):
            pass
    assert info.value.status_code == 503


def test_a_streamed_cache_hit_parses_with_the_sdk(client):
    messages = [{"role": "user", "content": f"cache me {uuid.uuid4().hex}"}]

    def stream_once():
        raw = client.chat.completions.with_raw_response.create(
            model=CHAT_MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        text, finish, usage = "", None, None
        for chunk in raw.parse():
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        return raw.headers.get("x-switchyard-cache"), text, finish, usage

    first = stream_once()
    second = stream_once()
    assert first[0] == "miss"
    assert second[0] == "hit"
    assert second[1] == first[1] == MOCK_RESPONSE
    assert second[2] == "stop"
    assert second[3] is not None and second[3].total_tokens == first[3].total_tokens > 0

    # The same answer, asked for as JSON, is a hit too (a streamed answer is stored whole).
    raw = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=messages)
    assert raw.headers.get("x-switchyard-cache") == "hit"
    assert raw.parse().choices[0].message.content == MOCK_RESPONSE
