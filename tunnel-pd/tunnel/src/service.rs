//! [`service!`](crate::service): define a service once, get a typed client,
//! a server trait and a dispatcher.

/// Defines a service as a module holding `Client`, `Server`, `dispatch`,
/// `serve` (on seL4) and the operation ids in `ops`.
///
/// ```ignore
/// tunnelkit_tunnel::service! {
///     /// Adds numbers.
///     pub mod adder {
///         /// Returns a + b.
///         1 => fn add(AddRequest) -> AddResponse;
///     }
/// }
/// // caller:  adder::Client::on(Channel::new(1)).add(&req)? -> AddResponse
/// // callee:  impl adder::Server for Me { fn add(&mut self, caller: Caller, req: AddRequest) -> Result<AddResponse, CallError> }
/// //          fn protected(..) { Ok(adder::serve(self, channel, info)) }
/// ```
///
/// Compile-time checks: every request and response fits in 64 message
/// registers; operation ids are non-zero and distinct.
///
/// ```compile_fail
/// # use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
/// #[derive(IntoBytes, FromBytes, Immutable, KnownLayout)]
/// #[repr(C)]
/// pub struct TooBig { words: [u64; 65] }
/// tunnelkit_tunnel::service! {
///     pub mod too_big { 1 => fn send(TooBig) -> (); }
/// }
/// ```
///
/// ```compile_fail
/// tunnelkit_tunnel::service! {
///     pub mod clash { 1 => fn a(()) -> (); 1 => fn b(()) -> (); }
/// }
/// ```
///
/// ```
/// tunnelkit_tunnel::service! {
///     pub mod fine { 1 => fn a([u64; 64]) -> (); 2 => fn b(()) -> [u8; 512]; }
/// }
/// ```
#[macro_export]
macro_rules! service {
    (
        $(#[$meta:meta])*
        $vis:vis mod $name:ident {
            $(
                $(#[$op_meta:meta])*
                $id:literal => fn $op:ident($req:ty) -> $resp:ty;
            )+
        }
    ) => {
        $(#[$meta])*
        $vis mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::{CallError, Caller, MessageRegisters, Transport};
            use $crate::__private::MessageInfo;

            /// The service's name.
            pub const NAME: &str = stringify!($name);

            /// Operation ids (the message labels).
            #[allow(non_upper_case_globals)]
            pub mod ops {
                $( #[doc = concat!("Id of `", stringify!($op), "`.")] pub const $op: u64 = $id; )+
            }

            const _: () = {
                let ids: &[u64] = &[$($id),+];
                let mut i = 0;
                while i < ids.len() {
                    assert!(ids[i] != 0, "operation id 0 is reserved");
                    let mut j = i + 1;
                    while j < ids.len() {
                        assert!(ids[i] != ids[j], "two operations share an id");
                        j += 1;
                    }
                    i += 1;
                }
                $( let _ = $crate::words_of::<$req>(); let _ = $crate::words_of::<$resp>(); )+
            };

            /// Typed calls into the service over a transport.
            pub struct Client<T> {
                transport: T,
            }

            impl<T: Transport> Client<T> {
                /// A client calling through `transport`.
                pub const fn new(transport: T) -> Self {
                    Self { transport }
                }

                /// The transport.
                pub fn transport(&mut self) -> &mut T {
                    &mut self.transport
                }

                $(
                    $(#[$op_meta])*
                    #[inline(always)]
                    pub fn $op(&mut self, request: &$req) -> Result<$resp, CallError> {
                        $crate::call(&mut self.transport, $id, request)
                    }
                )+
            }

            #[cfg(target_os = "none")]
            impl Client<$crate::Pp> {
                /// A client calling through the `pp` channel `channel`.
                pub const fn on(channel: $crate::__private::Channel) -> Self {
                    Self::new($crate::Pp::new(channel))
                }
            }

            #[cfg(target_os = "none")]
            impl Client<$crate::Connection> {
                /// A client on `channel`, by protected call or async rings as
                /// the system description sets the channel up.
                pub fn connect(channel: $crate::__private::Channel) -> Result<Self, CallError> {
                    $crate::Connection::connect(channel).map(Self::new)
                }
            }

            /// What a PD serving the service implements.
            pub trait Server {
                $(
                    $(#[$op_meta])*
                    fn $op(&mut self, caller: Caller, request: $req) -> Result<$resp, CallError>;
                )+
            }

            /// The largest operation id.
            const MAX_ID: u64 = {
                let ids: &[u64] = &[$($id),+];
                let (mut max, mut i) = (0, 0);
                while i < ids.len() {
                    if ids[i] > max {
                        max = ids[i];
                    }
                    i += 1;
                }
                max
            };

            /// Entries of the dispatch table: one per label up to the largest
            /// id. Ids up to 255 are dispatched by one indexed jump; a
            /// service with a larger id has no table and is dispatched by
            /// `match`.
            const TABLE_LEN: usize = if MAX_ID < 256 { MAX_ID as usize + 1 } else { 0 };

            /// Decodes the request in `mrs`, runs the operation `info`'s label
            /// names, and writes the reply; unknown ids and bad lengths become
            /// error replies.
            #[inline]
            pub fn dispatch<S: Server + ?Sized>(
                server: &mut S,
                caller: Caller,
                info: MessageInfo,
                mrs: &mut impl MessageRegisters,
            ) -> MessageInfo {
                dispatch_by_label(server, caller, info, mrs)
            }

            /// [`dispatch`], by one indexed jump through a table of the
            /// operations where the ids allow it.
            #[inline(always)]
            fn dispatch_by_label<S: Server + ?Sized, M: MessageRegisters>(
                server: &mut S,
                caller: Caller,
                info: MessageInfo,
                mrs: &mut M,
            ) -> MessageInfo {
                let label = info.label();
                if TABLE_LEN > 0 {
                    // A constant: LLVM indexes it in place (read-only data).
                    let table = const {
                        let mut t = [operations::unknown::<S, M> as fn(&mut S, Caller, MessageInfo, &mut M) -> MessageInfo; TABLE_LEN];
                        $( if ($id as usize) < TABLE_LEN { t[$id as usize] = operations::$op::<S, M>; } )+
                        t
                    };
                    if label < TABLE_LEN as u64 {
                        return table[label as usize](server, caller, info, mrs);
                    }
                    return operations::unknown(server, caller, info, mrs);
                }
                match label {
                    $( $id => operations::$op(server, caller, info, mrs), )+
                    _ => operations::unknown(server, caller, info, mrs),
                }
            }

            /// One function per operation, so that dispatching stays a jump
            /// and each operation pays only for its own registers and stack.
            mod operations {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[inline(never)]
                    pub(super) fn $op<S: Server + ?Sized, M: MessageRegisters>(server: &mut S, caller: Caller, info: MessageInfo, mrs: &mut M) -> MessageInfo {
                        $crate::serve_operation(info, mrs, |request: $req| server.$op(caller, request))
                    }
                )+

                /// Any id the service does not define.
                #[inline(never)]
                pub(super) fn unknown<S: Server + ?Sized, M: MessageRegisters>(_: &mut S, _: Caller, info: MessageInfo, mrs: &mut M) -> MessageInfo {
                    CallError::UnknownOperation { op: info.label() }.encode(mrs)
                }
            }

            /// Serves a protected call if it arrived on one of `callers`, and
            /// answers [`CallError::WrongChannel`] otherwise.
            #[cfg(target_os = "none")]
            pub fn serve_on<S: Server + ?Sized>(
                server: &mut S,
                callers: &[$crate::__private::Channel],
                channel: $crate::__private::Channel,
                info: MessageInfo,
            ) -> MessageInfo {
                if callers.contains(&channel) {
                    serve(server, channel, info)
                } else {
                    CallError::WrongChannel.encode(&mut $crate::IpcBuffer)
                }
            }

            /// Serves every request queued on `channel`'s async rings (call it
            /// from `notified`); returns how many were answered.
            #[cfg(target_os = "none")]
            pub fn serve_queued<S: Server + ?Sized>(server: &mut S, channel: $crate::__private::Channel) -> Result<usize, CallError> {
                $crate::ring::serve_channel(channel, |info, mrs| dispatch(server, Caller::new(channel), info, mrs))
            }

            /// Serves the async requests of every notified channel (call it from
            /// `notified`); channels without a ring region are skipped.
            #[cfg(target_os = "none")]
            pub fn serve_notified<S: Server + ?Sized>(server: &mut S, channels: $crate::__private::ChannelSet) {
                for channel in channels.iter() {
                    let _ = serve_queued(server, channel);
                }
            }

            /// Serves a protected call that arrived on `channel` (message in the IPC buffer).
            #[cfg(target_os = "none")]
            pub fn serve<S: Server + ?Sized>(server: &mut S, channel: $crate::__private::Channel, info: MessageInfo) -> MessageInfo {
                dispatch(server, Caller::new(channel), info, &mut $crate::IpcBuffer)
            }
        }
    };
}
