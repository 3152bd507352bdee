"""The endpoints beyond chat through the official Python `openai` SDK: models.retrieve,
completions.create (JSON and stream), images.generate, audio.speech.create,
audio.transcriptions.create (multipart), moderations.create; the LiteLLM response headers.
The constants mirror tests/sdk/config-endpoints.yaml.
"""

from __future__ import annotations

import io

import openai
import pytest

MASTER_KEY = "sk-sdk-master"
WHISPER_ONLY_KEY = "sk-sdk-team-whisper-only"


def _client(base_url: str, key: str = MASTER_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=20.0)


@pytest.fixture(scope="module")
def client(endpoints_gateway_url):
    with _client(endpoints_gateway_url) as c:
        yield c


def test_models_retrieve(client, endpoints_gateway_url):
    model = client.models.retrieve("sdk-instruct")
    assert model.id == "sdk-instruct"
    assert model.object == "model"
    with pytest.raises(openai.NotFoundError) as e:
        client.models.retrieve("no-such-model")
    assert e.value.code == "model_not_found"
    # A virtual key sees only its models.
    with _client(endpoints_gateway_url, WHISPER_ONLY_KEY) as limited:
        assert limited.models.retrieve("sdk-whisper").id == "sdk-whisper"
        with pytest.raises(openai.NotFoundError):
            limited.models.retrieve("sdk-instruct")


def test_completions_create(client):
    raw = client.completions.with_raw_response.create(
        model="sdk-instruct", prompt="Say this is a test", max_tokens=50
    )
    assert raw.headers["x-litellm-model-id"] == "sdk-instruct-mock"
    assert raw.headers["x-litellm-attempted-retries"] == "0"
    assert raw.headers["x-litellm-call-id"] == raw.headers["x-request-id"]
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.model == "sdk-instruct-upstream"
    assert "Say this is a test" in completion.choices[0].text
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens > 0


def test_completions_stream(client):
    stream = client.completions.create(
        model="sdk-instruct",
        prompt="Stream me",
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, usage, finish = [], None, None
    for chunk in stream:
        for choice in chunk.choices:
            texts.append(choice.text)
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    assert "Stream me" in "".join(texts)
    assert finish == "stop"
    assert usage is not None and usage.total_tokens > 0


def test_images_generate(client):
    images = client.images.generate(model="sdk-image", prompt="a lighthouse", n=2, response_format="b64_json")
    assert len(images.data) == 2
    assert images.data[0].b64_json.startswith("iVBOR")


def test_audio_speech_create(client):
    speech = client.audio.speech.create(model="sdk-tts", voice="alloy", input="hello from the gateway", response_format="wav")
    audio = speech.read()
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert speech.response.headers["content-type"] == "audio/wav"


def test_audio_transcriptions_create(client, endpoints_gateway_url):
    audio = ("meeting.wav", io.BytesIO(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(64)), "audio/wav")
    text = client.audio.transcriptions.create(model="sdk-whisper", file=audio)
    assert "meeting.wav" in text.text and "(80 bytes)" in text.text
    plain = client.audio.transcriptions.create(model="sdk-whisper", file=audio, response_format="text")
    assert isinstance(plain, str) and "meeting.wav" in plain
    with _client(endpoints_gateway_url, WHISPER_ONLY_KEY) as limited:
        assert "meeting.wav" in limited.audio.transcriptions.create(model="sdk-whisper", file=audio).text


def test_moderations_create(client):
    result = client.moderations.create(model="sdk-moderation", input=["first", "second"])
    assert len(result.results) == 2
    assert result.results[0].flagged is False


def test_an_endpoint_the_group_cannot_serve_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.images.generate(model="sdk-chat", prompt="x")
    assert e.value.code == "endpoint_not_supported"
    assert "sdk-chat" in e.value.message and "image" in e.value.message


def test_claude_code_shapes_through_the_anthropic_sdk(endpoints_gateway_url):
    """Claude Code's recorded tool-loop request (system inside messages, thinking and redacted
    thinking in history, is_error results, server tool blocks, cache_control) with a chat model."""
    import json
    from pathlib import Path

    import anthropic

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
    body = json.loads((fixtures / "tool-loop.json").read_text())
    headers = json.loads((fixtures / "headers.json").read_text())
    for k in ("model", "stream"):
        body.pop(k)
    # The typed arguments this SDK version has; the rest of the recorded body goes as is.
    typed = {k: body.pop(k) for k in ("max_tokens", "messages", "system")}
    extra = body
    beta = {"anthropic-beta": headers["anthropic-beta"]}
    with anthropic.Anthropic(base_url=endpoints_gateway_url, api_key=MASTER_KEY, max_retries=0) as client:
        with client.messages.stream(model="sdk-chat", extra_body=extra, extra_headers=beta, **typed) as stream:
            message = stream.get_final_message()
        assert message.role == "assistant"
        assert "thanks, summarise it" in message.content[0].text
        # Non-streaming: the SDK refuses Claude Code's 32000 tokens without a stream.
        reply = client.messages.create(model="sdk-chat", extra_body=extra, **{**typed, "max_tokens": 1024})
        assert reply.stop_reason == "end_turn"
