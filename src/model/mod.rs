//! The bottom layer: plain shared types many modules name — which endpoint a request is for,
//! its id, which adapter a deployment uses (and the vendor profile table), amounts of money. Plain
//! data and pure functions only: nothing here imports another switchyard module.

pub mod endpoint;
pub mod money;
pub mod profile;
pub mod provider_kind;
pub mod request_id;

pub use endpoint::Endpoint;
pub use money::usd;
pub use profile::Profile;
pub use provider_kind::ProviderKind;
pub use request_id::RequestId;
