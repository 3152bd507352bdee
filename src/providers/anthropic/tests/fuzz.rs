//! Property-based fuzzing of the Anthropic provider's translators (see `src/fuzz.rs`): hostile
//! bytes never panic them, and the OpenAI stream they emit is UTF-8 SSE.

use bytes::BytesMut;
use proptest::prelude::*;

use super::super::{request, response, stream::Translator};
use crate::openai::JsonBody;

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_anthropic_translators(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        events in proptest::collection::vec(
            proptest::sample::select(vec![
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\"}}\n\n",
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":7}\n\n",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":3}}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n",
                "event: ping\ndata: {\"type\": \"ping\"}\n\n",
                "data: {\"type\":\"content_block_delta\",\"index\":99999999999,\"delta\":{}}\n\n",
                "data: \u{0}\u{FFFD}\n\n",
            ]),
            0..24,
        ),
        split in any::<usize>(),
    ) {
        // OpenAI request -> Anthropic request.
        if let Ok(body) = JsonBody::parse(bytes::Bytes::from(bytes.clone())) {
            let _ = request::translate(&body, "claude", true);
        }
        // Anthropic answer -> OpenAI answer.
        let _ = response::translate(&bytes, 1);
        // Anthropic stream -> OpenAI stream: scripted events with the raw bytes spliced in.
        let mut input = events.concat().into_bytes();
        let at = split % (input.len() + 1);
        input.splice(at..at, bytes.iter().copied());
        let mut t = Translator::new(1);
        let (mut buf, mut out) = (BytesMut::new(), BytesMut::new());
        let half = input.len() / 2;
        for part in [&input[..half], &input[half..]] {
            buf.extend_from_slice(part);
            t.feed(&mut buf, false, &mut out);
        }
        t.feed(&mut buf, true, &mut out);
        prop_assert!(std::str::from_utf8(&out).is_ok());
    }
}
