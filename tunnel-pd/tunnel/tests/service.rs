//! Host tests of the tunnel primitive: a client talks to a server through a
//! loopback transport that runs the server's dispatcher, as a PD would.

use tunnelkit_runtime::{Channel, MessageInfo};
use tunnelkit_tunnel::{ArrayRegisters, CallError, Caller, MessageRegisters, Transport, Window, service};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
struct AddRequest {
    a: u64,
    b: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Sum {
    sum: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Big {
    words: [u64; 64],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Odd {
    bytes: [u8; 13],
}

service! {
    /// A test service.
    pub mod adder {
        /// a + b, refusing overflow.
        1 => fn add(AddRequest) -> Sum;
        /// Reverses 64 words (the largest message).
        2 => fn reverse(Big) -> Big;
        /// Echoes 13 bytes (not a whole number of words).
        7 => fn echo(Odd) -> Odd;
        /// Checks a window against a 4 KiB region.
        8 => fn check(Window) -> ();
    }
}

service! {
    /// Forwards to an adder: a nested call.
    pub mod doubler {
        /// 2 * (a + b), computed by calling the adder twice.
        1 => fn double_sum(AddRequest) -> Sum;
    }
}

struct Adder;

impl adder::Server for Adder {
    fn add(&mut self, _caller: Caller, r: AddRequest) -> Result<Sum, CallError> {
        r.a.checked_add(r.b).map(|sum| Sum { sum }).ok_or(CallError::Refused(42))
    }
    fn reverse(&mut self, _caller: Caller, mut r: Big) -> Result<Big, CallError> {
        r.words.reverse();
        Ok(r)
    }
    fn echo(&mut self, _caller: Caller, r: Odd) -> Result<Odd, CallError> {
        Ok(r)
    }
    fn check(&mut self, _caller: Caller, w: Window) -> Result<(), CallError> {
        w.range_in(4096).map(drop).map_err(|_| CallError::BadWindow)
    }
}

/// Runs a server's dispatcher in place of the kernel; counts calls.
struct Loopback<S> {
    server: S,
    serve: fn(&mut S, Caller, MessageInfo, &mut ArrayRegisters) -> MessageInfo,
    channel: Channel,
    mrs: ArrayRegisters,
    calls: usize,
}

impl<S> Transport for Loopback<S> {
    type Registers = ArrayRegisters;
    fn registers(&mut self) -> &mut ArrayRegisters {
        &mut self.mrs
    }
    fn call(&mut self, info: MessageInfo) -> Result<MessageInfo, CallError> {
        self.calls += 1;
        let mut mrs = self.mrs.clone();
        // The kernel copies only `length` words; scrub the rest to catch readers of stale words.
        for w in &mut mrs.0[info.length()..] {
            *w = 0xdead_beef;
        }
        let reply = (self.serve)(&mut self.server, Caller::new(self.channel), info, &mut mrs);
        self.mrs = mrs;
        Ok(reply)
    }
}

fn adder_client() -> adder::Client<Loopback<Adder>> {
    adder::Client::new(Loopback {
        server: Adder,
        serve: adder::dispatch::<Adder>,
        channel: Channel::new(0),
        mrs: ArrayRegisters::default(),
        calls: 0,
    })
}

#[test]
fn typed_call_returns_the_response() {
    let mut c = adder_client();
    assert_eq!(c.add(&AddRequest { a: 40, b: 2 }), Ok(Sum { sum: 42 }));
    assert_eq!(c.transport().calls, 1);
}

#[test]
fn service_errors_come_back_as_values() {
    let mut c = adder_client();
    assert_eq!(c.add(&AddRequest { a: u64::MAX, b: 1 }), Err(CallError::Refused(42)));
    assert_eq!(c.check(&Window::new(4000, 97)), Err(CallError::BadWindow));
    assert_eq!(c.check(&Window::new(4000, 96)), Ok(()));
}

#[test]
fn the_largest_message_round_trips() {
    let mut c = adder_client();
    let mut big = Big { words: [0; 64] };
    for (i, w) in big.words.iter_mut().enumerate() {
        *w = i as u64 * 0x0101_0101_0101_0101;
    }
    let mut expected = big;
    expected.words.reverse();
    assert_eq!(c.reverse(&big), Ok(expected));
}

#[test]
fn partial_words_are_padded_and_restored() {
    let mut c = adder_client();
    let odd = Odd { bytes: *b"thirteen byte" };
    assert_eq!(c.echo(&odd), Ok(odd));
    assert_eq!(tunnelkit_tunnel::words_of::<Odd>(), 2);
}

#[test]
fn unknown_operation_and_bad_length_are_errors_not_panics() {
    let mut mrs = ArrayRegisters::default();
    let caller = Caller::new(Channel::new(0));
    let reply = adder::dispatch(&mut Adder, caller, MessageInfo::with_label(99, 0), &mut mrs);
    assert_eq!(CallError::decode(reply, &mrs), CallError::UnknownOperation { op: 99 });

    let reply = adder::dispatch(&mut Adder, caller, MessageInfo::with_label(adder::ops::add, 1), &mut mrs);
    assert_eq!(CallError::decode(reply, &mrs), CallError::BadLength { expected: 2, got: 1 });

    let reply = adder::dispatch(&mut Adder, caller, MessageInfo::with_label(adder::ops::reverse, 120), &mut mrs);
    assert_eq!(CallError::decode(reply, &mrs), CallError::BadLength { expected: 64, got: 120 });
}

service! {
    /// Ids too large for a dispatch table: dispatched by `match`.
    pub mod sparse {
        /// Echoes the request.
        7 => fn low(u64) -> u64;
        /// Echoes the request plus one.
        4096 => fn high(u64) -> u64;
    }
}

struct Sparse;

impl sparse::Server for Sparse {
    fn low(&mut self, _caller: Caller, x: u64) -> Result<u64, CallError> {
        Ok(x)
    }
    fn high(&mut self, _caller: Caller, x: u64) -> Result<u64, CallError> {
        Ok(x + 1)
    }
}

#[test]
fn every_label_reaches_its_operation_or_is_unknown() {
    let caller = Caller::new(Channel::new(3));
    // Table dispatch (ids 1, 2, 7, 8): label 0, the gaps, the label just past
    // the table and a label past any table are unknown.
    for label in [0u64, 3, 4, 5, 6, 9, 255, 256, 4096, (1 << 52) - 1] {
        let mut mrs = ArrayRegisters::default();
        let reply = adder::dispatch(&mut Adder, caller, MessageInfo::with_label(label, 0), &mut mrs);
        assert_eq!(CallError::decode(reply, &mrs), CallError::UnknownOperation { op: label }, "label {label}");
    }
    let mut mrs = ArrayRegisters::default();
    mrs.0[0] = 0; // Window::new(0, 0)
    let reply = adder::dispatch(&mut Adder, caller, MessageInfo::with_label(adder::ops::check, 1), &mut mrs);
    assert_eq!(reply.label(), 0, "a window check reaches its operation");
    // Match dispatch.
    for (label, expected) in [(7u64, Some(41u64)), (4096, Some(42)), (0, None), (8, None), (4095, None), (4097, None)] {
        let mut mrs = ArrayRegisters::default();
        mrs.0[0] = 41;
        let reply = sparse::dispatch(&mut Sparse, caller, MessageInfo::with_label(label, 1), &mut mrs);
        match expected {
            Some(v) => assert_eq!((reply.label(), reply.length(), mrs.0[0]), (0, 1, v), "label {label}"),
            None => assert_eq!(CallError::decode(reply, &mrs), CallError::UnknownOperation { op: label }, "label {label}"),
        }
    }
}

#[test]
fn every_error_survives_the_wire() {
    let errors = [
        CallError::UnknownOperation { op: 7 },
        CallError::BadLength { expected: 3, got: 9 },
        CallError::WrongChannel,
        CallError::BadWindow,
        CallError::NoLentRegion,
        CallError::Refused(0x1234),
        CallError::Busy,
        CallError::Fault,
        CallError::Overrun,
        CallError::Held,
    ];
    for e in errors {
        let mut mrs = ArrayRegisters::default();
        let info = e.encode(&mut mrs);
        assert_ne!(info.label(), 0, "{e:?} must not look like success");
        assert_eq!(CallError::decode(info, &mrs), e);
    }
    let mrs = ArrayRegisters::default();
    assert_eq!(CallError::decode(MessageInfo::with_label(tunnelkit_runtime::UNHANDLED_PPC_LABEL, 0), &mrs), CallError::WrongChannel);
    assert_eq!(CallError::decode(MessageInfo::with_label(77, 0), &mrs), CallError::BadReply(77));
    assert_eq!(CallError::decode(MessageInfo::with_label(0xF_FFFB, 0), &mrs), CallError::Held, "a held PD's runtime label");
}

#[test]
fn a_response_of_the_wrong_size_is_rejected_by_the_caller() {
    struct Liar(ArrayRegisters);
    impl Transport for Liar {
        type Registers = ArrayRegisters;
        fn registers(&mut self) -> &mut ArrayRegisters {
            &mut self.0
        }
        fn call(&mut self, _info: MessageInfo) -> Result<MessageInfo, CallError> {
            Ok(MessageInfo::with_label(0, 3))
        }
    }
    let mut c = adder::Client::new(Liar(ArrayRegisters::default()));
    assert_eq!(c.add(&AddRequest { a: 1, b: 2 }), Err(CallError::BadLength { expected: 1, got: 3 }));
}

struct Doubler {
    adder: adder::Client<Loopback<Adder>>,
}

impl doubler::Server for Doubler {
    fn double_sum(&mut self, _caller: Caller, r: AddRequest) -> Result<Sum, CallError> {
        let s = self.adder.add(&r)?;
        self.adder.add(&AddRequest { a: s.sum, b: s.sum })
    }
}

#[test]
fn nested_calls_propagate_results_and_errors() {
    let doubler = Doubler { adder: adder_client() };
    let mut c = doubler::Client::new(Loopback {
        server: doubler,
        serve: doubler::dispatch::<Doubler>,
        channel: Channel::new(3),
        mrs: ArrayRegisters::default(),
        calls: 0,
    });
    assert_eq!(c.double_sum(&AddRequest { a: 20, b: 1 }), Ok(Sum { sum: 42 }));
    assert_eq!(c.double_sum(&AddRequest { a: u64::MAX / 2 + 1, b: 0 }), Err(CallError::Refused(42)));
    assert_eq!(c.transport().server.adder.transport().calls, 4);
}

#[test]
fn registers_hold_little_endian_words() {
    let mut mrs = ArrayRegisters::default();
    let n = tunnelkit_tunnel::encode(&Odd { bytes: *b"ABCDEFGHIJKLM" }, &mut mrs);
    assert_eq!(n, 2);
    assert_eq!(mrs.get(0), u64::from_le_bytes(*b"ABCDEFGH"));
    assert_eq!(mrs.get(1), u64::from_le_bytes(*b"IJKLM\0\0\0"));
}
