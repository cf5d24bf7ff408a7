//! The tunnel: a typed, synchronous call into another PD.
//!
//! A service is defined once with [`service!`]: each operation has an id (the
//! message label), a request and a response type deriving zerocopy's traits,
//! carried in message registers (at most 64 words, checked at compile time).
//! The macro generates a module with a typed `Client`, a `Server` trait and a
//! `dispatch` function.
//!
//! Whether a call is a *tunnel* (the callee is a passive PD and runs on the
//! caller's donated scheduling context) or *plain IPC* (the callee is active
//! and its own SC pays) is decided by the system description alone: the
//! component code is the same.
//!
//! Errors are values: an unknown operation, a request of the wrong size, a
//! call on a channel the callee does not serve or a bad lent window all come
//! back to the caller as a [`CallError`]; the callee never panics on them.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod frames;
mod lend;
mod message;
pub mod ring;
mod serve;
mod service;
#[cfg(test)]
mod test_memory;
mod transport;

pub use error::CallError;
pub use lend::{Window, WindowError};
pub use message::{ArrayRegisters, MAX_MESSAGE_BYTES, MAX_MESSAGE_WORDS, Message, MessageRegisters, decode, encode, words_of};
pub use serve::{Caller, call, serve_operation};
pub use transport::Transport;

#[cfg(target_os = "none")]
pub use lend::{LentRegion, LentWindow};
#[cfg(target_os = "none")]
pub use message::IpcBuffer;
#[cfg(target_os = "none")]
pub use ring::Async;
#[cfg(target_os = "none")]
pub use transport::{Connection, Pp};

#[doc(hidden)]
pub mod __private {
    pub use tunnelkit_runtime::{Channel, ChannelSet, MessageInfo};
}
