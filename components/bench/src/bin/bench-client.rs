//! Crossing costs, measured with the cycle counter: the raw floor, then the
//! same service by tunnel, plain IPC and async rings, over payloads in message
//! registers, lent windows and nesting depths. Prints one `bench crossing …`
//! line per variant, then `bench: crossings done`.
//!
//! Async requests are also measured in batches of 2 and 4 (cost per request).
//!
//! Then the tunnel's null crossing split into its parts (`bench split`, and
//! on AArch64 `bench split-user` counting user mode only).
//!
//! Calls: raw floor on channel 1; `bench` on 2 (tunnel pod), 3 (active
//! server, plain IPC) and 4 (async server), each with a lent region; the
//! event loop alone (`bench-loop`) on 5.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use bench::{Depth, bench as svc};
use tunnelkit_runtime::{Channel, Handler, SharedMemory, cycles, debug_println, protection_domain, wait_for};
use tunnelkit_sys::{MessageInfo, cap, syscall};
use tunnelkit_tunnel::{CallError, IpcBuffer, LentRegion, Transport, Window, ring};

const RAW: Channel = Channel::new(1);
/// The runtime's event loop alone (`bench-loop`).
const LOOP: Channel = Channel::new(5);
const TRANSPORTS: [(&str, Channel); 3] = [("tunnel", Channel::new(2)), ("ipc", Channel::new(3)), ("async", Channel::new(4))];
/// Calls before measuring (caches, TLB, branch predictors, lazy FPU).
const WARMUP: usize = 100;
/// Measured calls per variant.
const ITERATIONS: usize = 1000;
const LENT_BYTES: [u32; 7] = [64, 128, 256, 512, 1024, 2048, 4096];

protection_domain!(init);

struct Client;

fn init() -> Client {
    cycles::enable();
    let mut samples = [0u64; ITERATIONS];
    report("raw", 0, 0, 1, measure(&mut samples, raw_call));

    for (name, channel) in TRANSPORTS {
        // A tunnel or plain IPC is a client over the `pp` channel (what a
        // PD calling a pod or server uses); async is a connection over rings.
        if channel.check_callable().is_ok() {
            crossings(name, channel, &mut svc::Client::on(channel), &mut samples);
        } else {
            let mut c =
                svc::Client::connect(channel).unwrap_or_else(|e| panic!("{name}: cannot connect on channel {}: {e}", channel.index()));
            crossings(name, channel, &mut c, &mut samples);
        }
    }
    async_batches(&mut samples);
    split(&mut samples, "split");
    if cycles::CAN_COUNT_USER_MODE_ONLY {
        user_mode_split(&mut samples);
    }
    debug_println!("bench: crossings done");
    Client
}

/// The tunnel's null round trip taken apart: the raw floor, then one piece
/// of the tunnel at a time against the rest of the floor. `floor`: raw
/// client, raw server. `client`: the tunnel's typed client (marshalling, the
/// reply check, the nested flag) calling the raw server. `marked`: the raw
/// call with only the nested flag set around it. `loop`: a raw call into the
/// runtime's event loop answering without a service (loop and call-state
/// bookkeeping). `server`: a raw call into the bench pod's `null` (loop,
/// bookkeeping and the service's dispatch). Prints `bench <kind> part=…`.
fn split(samples: &mut [u64; ITERATIONS], kind: &str) {
    let null = MessageInfo::with_label(svc::ops::null, 0);
    let raw_to = |channel: Channel| {
        move || {
            let reply = syscall::call(cap::endpoint(channel.index()), null);
            empty_reply(reply)
        }
    };
    let mut client = svc::Client::on(RAW);
    let parts: [(&str, Measured); 5] = [
        ("floor", measure(samples, raw_call)),
        ("client", measure(samples, || client.null(&()))),
        (
            "marked",
            measure(samples, || {
                let reply = syscall::call_marked(cap::endpoint(RAW.index()), MessageInfo::with_label(0, 0));
                empty_reply(reply)
            }),
        ),
        ("loop", measure(samples, raw_to(LOOP))),
        ("server", measure(samples, raw_to(TRANSPORTS[0].1))),
    ];
    for (part, r) in parts {
        match r {
            Ok((min, median, max)) => {
                debug_println!("bench {kind} part={part} iterations={ITERATIONS} min={min} median={median} max={max}")
            }
            Err(e) => panic!("split {part}: {e}"),
        }
    }
}

/// `Ok` for the empty reply a raw server or the event loop alone answers with.
#[inline(always)]
fn empty_reply(reply: MessageInfo) -> Result<(), CallError> {
    if reply.into_word() == 0 { Ok(()) } else { Err(CallError::BadReply(reply.label())) }
}

/// The floor: `seL4_Call` with an empty message, checking that the reply is
/// the raw server's empty one.
fn raw_call() -> Result<(), CallError> {
    let reply = syscall::call(cap::endpoint(RAW.index()), MessageInfo::with_label(0, 0));
    empty_reply(reply)
}

/// Every crossing of one transport: payloads, lent windows and (tunnel)
/// nesting depths.
fn crossings<T: Transport>(name: &str, channel: Channel, c: &mut svc::Client<T>, samples: &mut [u64; ITERATIONS]) {
    // One closure per size, each calling its operation directly, so the
    // measured loop holds nothing but the call (as for the raw floor).
    let v = 0x0123_4567_89AB_CDEF_u64;
    report(name, 0, 0, 1, measure(samples, || c.null(&())));
    report(name, 8, 0, 1, measure(samples, || c.echo1(&[v; 1]).map(drop)));
    report(name, 16, 0, 1, measure(samples, || c.echo2(&[v; 2]).map(drop)));
    report(name, 32, 0, 1, measure(samples, || c.echo4(&[v; 4]).map(drop)));
    report(name, 64, 0, 1, measure(samples, || c.echo8(&[v; 8]).map(drop)));
    report(name, 128, 0, 1, measure(samples, || c.echo16(&[v; 16]).map(drop)));
    report(name, 256, 0, 1, measure(samples, || c.echo32(&[v; 32]).map(drop)));
    report(name, 512, 0, 1, measure(samples, || c.echo64(&[v; 64]).map(drop)));
    let region = LentRegion::on(channel).unwrap_or_else(|e| panic!("{name}: {e}"));
    let pattern = [0x5Au8; 256];
    for at in (0..4096).step_by(256) {
        region.write(Window::new(0, 4096), at, &pattern).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for bytes in LENT_BYTES {
        let r = measure(samples, || c.lent(&Window::new(0, bytes)).map(drop));
        report(name, 0, bytes as usize, 1, r);
    }
    if name == "tunnel" {
        for depth in 2..=3 {
            let r = measure(samples, || c.nested(&Depth { remaining: depth }));
            report(name, 0, 0, depth as u32, r);
        }
    }
}

impl Handler for Client {
    type Error = Infallible;
}

/// Async null requests in batches of 2 and 4: push the batch, notify once,
/// collect every response. Reports the cost per request, to compare with a
/// tunnel call (where batching is not possible).
fn async_batches(samples: &mut [u64; ITERATIONS]) {
    let (_, channel) = TRANSPORTS[2];
    let ring = SharedMemory::ring(channel.index()).expect("async ring region");
    let request = MessageInfo::with_label(svc::ops::null, 0);
    for batch in [2usize, 4] {
        let r = measure(samples, || {
            for _ in 0..batch {
                ring::push_request(&ring, request, &IpcBuffer).map_err(|_| CallError::Busy)?;
            }
            channel.notify().map_err(CallError::Channel)?;
            let mut got = 0;
            while got < batch {
                match ring::pop_response(&ring, &mut IpcBuffer) {
                    Some(reply) if reply.label() == 0 => got += 1,
                    Some(reply) => return Err(CallError::BadReply(reply.label())),
                    None => wait_for(channel),
                }
            }
            Ok(())
        });
        match r {
            Ok((min, median, max)) => debug_println!(
                "bench crossing transport=async batch={batch} payload_bytes=0 lent_bytes=0 depth=1 iterations={ITERATIONS} \
                 min={} median={} max={}",
                min / batch as u64,
                median / batch as u64,
                max / batch as u64
            ),
            Err(e) => panic!("async batch {batch}: {e}"),
        }
    }
}

/// The null crossings again, counting user-mode instructions only (both
/// sides: the counter is per core): what the framework itself costs.
fn user_mode_split(samples: &mut [u64; ITERATIONS]) {
    cycles::count_user_mode_only(true);
    report_user("raw", measure(samples, raw_call));
    for (name, channel) in TRANSPORTS {
        let r = if channel.check_callable().is_ok() {
            let mut c = svc::Client::on(channel);
            measure(samples, || c.null(&()))
        } else {
            let mut c = svc::Client::connect(channel).unwrap_or_else(|e| panic!("{name}: {e}"));
            measure(samples, || c.null(&()))
        };
        report_user(name, r);
    }
    split(samples, "split-user");
    cycles::count_user_mode_only(false);
}

fn report_user(transport: &str, r: Result<(u64, u64, u64), CallError>) {
    match r {
        Ok((min, median, max)) => debug_println!(
            "bench user transport={transport} payload_bytes=0 lent_bytes=0 depth=1 iterations={ITERATIONS} min={min} median={median} max={max}"
        ),
        Err(e) => panic!("{transport} (user mode): {e}"),
    }
}

/// (min, median, max) of a measurement, or the error that stopped it.
type Measured = Result<(u64, u64, u64), CallError>;

/// Warms up, then times `ITERATIONS` calls one by one; (min, median, max).
/// Never inlined: each closure gets its own copy of the same loop, so that
/// every variant is measured by the same code around its call.
#[inline(never)]
fn measure(samples: &mut [u64; ITERATIONS], mut call: impl FnMut() -> Result<(), CallError>) -> Measured {
    // One loop, so the call has one site and is inlined like the raw floor's:
    // the first WARMUP rounds are not kept.
    for i in 0..WARMUP + ITERATIONS {
        let start = cycles::now();
        call()?;
        let took = cycles::now() - start;
        if let Some(s) = i.checked_sub(WARMUP).and_then(|k| samples.get_mut(k)) {
            *s = took;
        }
    }
    Ok(cycles::summarize(samples))
}

fn report(transport: &str, payload_bytes: usize, lent_bytes: usize, depth: u32, r: Result<(u64, u64, u64), CallError>) {
    match r {
        Ok((min, median, max)) => debug_println!(
            "bench crossing transport={transport} payload_bytes={payload_bytes} lent_bytes={lent_bytes} depth={depth} \
             iterations={ITERATIONS} min={min} median={median} max={max}"
        ),
        Err(e) => panic!("{transport} payload {payload_bytes} lent {lent_bytes} depth {depth}: {e}"),
    }
}
