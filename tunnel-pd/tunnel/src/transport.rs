//! How a call reaches the callee.

use tunnelkit_runtime::MessageInfo;

use crate::error::CallError;
use crate::message::MessageRegisters;

/// Carries a request to a callee and its reply back.
pub trait Transport {
    /// Where the message registers live.
    type Registers: MessageRegisters;
    /// The registers the request is written to and the reply read from.
    fn registers(&mut self) -> &mut Self::Registers;
    /// Sends `info` (with the registers) and returns the reply's info.
    fn call(&mut self, info: MessageInfo) -> Result<MessageInfo, CallError>;
}

/// A Microkit protected call (`seL4_Call` on a `pp` channel): a tunnel when
/// the callee is passive, plain IPC when it is active. The channel's `pp`
/// right is checked at the first call and remembered: later calls only trap.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct Pp {
    channel: tunnelkit_runtime::Channel,
    checked: Option<tunnelkit_runtime::Callable>,
    ipc_buffer: crate::message::IpcBuffer,
}

#[cfg(target_os = "none")]
impl Pp {
    /// Calls through `channel` (this PD's end must have `pp="true"`; a call
    /// fails with [`CallError::Channel`] otherwise).
    pub const fn new(channel: tunnelkit_runtime::Channel) -> Self {
        Self { channel, checked: None, ipc_buffer: crate::message::IpcBuffer }
    }

    /// The channel calls go through.
    pub const fn channel(&self) -> tunnelkit_runtime::Channel {
        self.channel
    }

    #[cold]
    fn check(&mut self) -> Result<tunnelkit_runtime::Callable, CallError> {
        let callable = self.channel.callable().map_err(CallError::Channel)?;
        self.checked = Some(callable);
        Ok(callable)
    }
}

#[cfg(target_os = "none")]
impl Transport for Pp {
    type Registers = crate::message::IpcBuffer;

    fn registers(&mut self) -> &mut Self::Registers {
        &mut self.ipc_buffer
    }

    #[inline]
    fn call(&mut self, info: MessageInfo) -> Result<MessageInfo, CallError> {
        let callable = match self.checked {
            Some(c) => c,
            None => self.check()?,
        };
        Ok(callable.call(info))
    }
}

/// A connection whose kind the system description decides: a protected call
/// when this PD's end of the channel has `pp="true"` (tunnel or plain IPC),
/// otherwise the async rings when the channel has a ring region.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub enum Connection {
    /// `seL4_Call` on the channel.
    Pp(Pp),
    /// Rings plus notifications.
    Async(crate::ring::Async),
}

#[cfg(target_os = "none")]
impl Connection {
    /// Connects through `channel` as the system description says.
    pub fn connect(channel: tunnelkit_runtime::Channel) -> Result<Self, CallError> {
        if channel.check_callable().is_ok() {
            return Ok(Connection::Pp(Pp::new(channel)));
        }
        crate::ring::Async::new(channel)
            .map(Connection::Async)
            .map_err(|_| CallError::Channel(tunnelkit_runtime::ChannelError::NotCallable(channel.index())))
    }

    /// `"pp"` or `"async"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Connection::Pp(_) => "pp",
            Connection::Async(_) => "async",
        }
    }
}

#[cfg(target_os = "none")]
impl Transport for Connection {
    type Registers = crate::message::IpcBuffer;

    fn registers(&mut self) -> &mut Self::Registers {
        match self {
            Connection::Pp(p) => p.registers(),
            Connection::Async(a) => a.registers(),
        }
    }

    #[inline]
    fn call(&mut self, info: MessageInfo) -> Result<MessageInfo, CallError> {
        match self {
            Connection::Pp(p) => p.call(info),
            Connection::Async(a) => a.call_out_of_line(info),
        }
    }
}
