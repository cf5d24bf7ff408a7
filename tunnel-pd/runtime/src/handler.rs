//! The [`Handler`] trait: one method per Microkit entry point.

use crate::channel::{Channel, ChannelSet, Child};
use tunnelkit_sys::MessageInfo;

pub use tunnelkit_abi::reply::UNHANDLED_PPC_LABEL;

/// What a PD does when something arrives. Every method has a default that
/// matches libmicrokit's behaviour for a PD that does not define it.
pub trait Handler {
    /// Error a handler may return; the runtime prints it with the PD's name and
    /// stops the PD with a fault.
    type Error: core::fmt::Display;

    /// Notifications arrived on `channels` (libmicrokit `notified`, once per set bit).
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Self::Error> {
        crate::debug_println!("{}: unexpected notification on {:?}", crate::pd_name().as_str(), channels);
        Ok(())
    }

    /// A protected procedure call arrived on `channel`; the returned message is
    /// the reply (its MRs are written to the IPC buffer by the handler).
    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Self::Error> {
        crate::debug_println!(
            "{}: unexpected protected call on channel {} (label {})",
            crate::pd_name().as_str(),
            channel.index(),
            msg_info.label()
        );
        Ok(MessageInfo::with_label(UNHANDLED_PPC_LABEL, 0))
    }

    /// Child PD `child` faulted (label = fault type, MRs = fault data).
    /// `Some(reply)` resumes the child with that reply; `None` leaves it stopped.
    fn fault(&mut self, child: Child, msg_info: MessageInfo) -> Result<Option<MessageInfo>, Self::Error> {
        crate::debug_println!(
            "{}: unhandled fault of child {} (fault type {})",
            crate::pd_name().as_str(),
            child.index(),
            msg_info.label()
        );
        Ok(None)
    }
}
