//! The conversation of a response: the stored one it continues (`previous_response_id`), then
//! this request's input, as items with ids (so `input_items` can list and page them).

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::wire::{Content, Input, Item, MessageItem, Part, TypedItem, TypedPart, new_id};
use crate::{error::GatewayError, state::responses::StoredResponse};

#[derive(Deserialize)]
struct OutputOnly {
    #[serde(default)]
    output: Vec<Item>,
}

/// The items of a stored response's conversation followed by its output.
pub fn history(stored: &StoredResponse) -> Result<Vec<Item>, GatewayError> {
    let corrupt = |e: serde_json::Error| {
        GatewayError::Internal(format!("a stored response could not be read: {e}"))
    };
    let mut items: Vec<Item> = serde_json::from_slice(&stored.input).map_err(corrupt)?;
    let output: OutputOnly = serde_json::from_slice(&stored.response).map_err(corrupt)?;
    items.extend(output.output);
    Ok(items)
}

/// `input` as items with ids: a string is one user message; an item without `type` becomes a
/// typed message.
pub fn input_items(input: Option<Input>) -> Vec<Item> {
    let items = match input {
        None => Vec::new(),
        Some(Input::Text(text)) => vec![Item::Typed(TypedItem::Message(MessageItem {
            id: None,
            role: "user".into(),
            content: Content::Parts(vec![Part::Typed(TypedPart::InputText { text })]),
            extra: Map::new(),
        }))],
        Some(Input::Items(items)) => items,
    };
    items.into_iter().map(with_id).collect()
}

fn with_id(item: Item) -> Item {
    match item {
        Item::Easy(m) | Item::Typed(TypedItem::Message(m)) => {
            Item::Typed(TypedItem::Message(MessageItem {
                id: m.id.or_else(|| Some(new_id("msg"))),
                ..m
            }))
        }
        Item::Typed(TypedItem::FunctionCall(mut c)) => {
            c.id.get_or_insert_with(|| new_id("fc"));
            Item::Typed(TypedItem::FunctionCall(c))
        }
        Item::Typed(TypedItem::FunctionCallOutput(mut o)) => {
            o.id.get_or_insert_with(|| new_id("fco"));
            Item::Typed(TypedItem::FunctionCallOutput(o))
        }
        other @ Item::Other(_) => other,
    }
}

/// The items as stored JSON.
pub fn to_bytes(items: &[Item]) -> Bytes {
    serde_json::to_vec(items)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"[]"))
}

/// The items without their ids, for an upstream that did not make them (ids are its own).
pub fn without_ids(items: &[Item]) -> Vec<Item> {
    items
        .iter()
        .cloned()
        .map(|item| match item {
            Item::Easy(m) | Item::Typed(TypedItem::Message(m)) => {
                Item::Typed(TypedItem::Message(MessageItem { id: None, ..m }))
            }
            Item::Typed(TypedItem::FunctionCall(mut c)) => {
                c.id = None;
                Item::Typed(TypedItem::FunctionCall(c))
            }
            Item::Typed(TypedItem::FunctionCallOutput(mut o)) => {
                o.id = None;
                Item::Typed(TypedItem::FunctionCallOutput(o))
            }
            other @ Item::Other(_) => other,
        })
        .collect()
}

/// The id of an item, for paging.
pub fn item_id(item: &Item) -> Option<&str> {
    match item {
        Item::Typed(TypedItem::Message(m)) | Item::Easy(m) => m.id.as_deref(),
        Item::Typed(TypedItem::FunctionCall(c)) => c.id.as_deref(),
        Item::Typed(TypedItem::FunctionCallOutput(o)) => o.id.as_deref(),
        Item::Other(v) => v.get("id").and_then(Value::as_str),
    }
}
