//! Encryption pod: ChaCha20 with a secret key its callers cannot read, over
//! windows they lend. The result's checksum comes from a nested tunnel into
//! the checksum pod.
//!
//! The same image runs as the passive pod (`crypt`, a tunnel: callers' budget
//! pays) and as the active twin (`crypt_ipc`, plain IPC: its own budget pays);
//! only system.xml differs.
//!
//! Serves: `crypt` on channels 0, 1 and 2 (the client paths: two in
//! system.xml, three in smp.xml).
//! Calls: `checksum` on channel 3, lending the region mapped on that channel.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::convert::Infallible;

use demo_services::cipher::Keystream;
use demo_services::{CryptReply, CryptRequest, checksum, crypt, kat, refusal};
use tunnelkit_runtime::{Channel, ChannelSet, Handler, MessageInfo, debug_println, is_passive, pd_name, protection_domain};
use tunnelkit_tunnel::{CallError, Caller, LentRegion, Pp, Window};

/// Channels whose callers may use the service (see system.xml and smp.xml).
const CALLERS: [Channel; 3] = [Channel::new(0), Channel::new(1), Channel::new(2)];
/// Channel to the checksum pod; its lent region is the pod's output buffer.
const CHECKSUM: Channel = Channel::new(3);
/// Bytes transformed per copy out of the caller's region.
const CHUNK: usize = 256;
/// The key. At run time it lives only in this PD's address space.
const SECRET_KEY: [u8; 32] = demo_services::DEMO_KEY;

protection_domain!(init);

struct CryptPod {
    checksum: checksum::Client<Pp>,
}

fn init() -> CryptPod {
    assert!(kat::self_test(), "ChaCha20 known-answer test failed");
    debug_println!(
        "{}: ready ({}), ChaCha20 known-answer test ok",
        pd_name().as_str(),
        if is_passive() { "passive pod" } else { "active server" }
    );
    CryptPod { checksum: checksum::Client::on(CHECKSUM) }
}

impl CryptPod {
    /// XORs the keystream into `window` of the caller's region, copies the
    /// result to the checksum pod's region and asks it for the CRC-32.
    fn transform(
        &mut self,
        caller: Caller,
        window: Window,
        key: &[u8; 32],
        nonce: &[u8; 12],
        counter: u32,
    ) -> Result<CryptReply, CallError> {
        let lent = caller.lent()?;
        let out = LentRegion::on(CHECKSUM)?;
        if u64::from(window.len) > out.size() {
            return Err(CallError::Refused(refusal::WINDOW_TOO_LARGE));
        }
        let out_window = Window::new(0, window.len);
        window.range_in(lent.size()).map_err(|_| CallError::BadWindow)?;

        let mut keystream = Keystream::new(key, nonce, counter);
        let mut buf = [0u8; CHUNK];
        let mut at = 0;
        while at < window.len {
            let n = CHUNK.min((window.len - at) as usize);
            lent.read(window, at, &mut buf[..n])?;
            keystream.apply(&mut buf[..n]);
            lent.write(window, at, &buf[..n])?;
            out.write(out_window, at, &buf[..n])?;
            at += n as u32;
        }
        let sum = self.checksum.crc32(&out_window)?;
        Ok(CryptReply { checksum: sum.crc32, len: sum.len })
    }
}

impl crypt::Server for CryptPod {
    fn encrypt(&mut self, caller: Caller, request: CryptRequest) -> Result<CryptReply, CallError> {
        if request.reserved != 0 {
            return Err(CallError::Refused(refusal::RESERVED_NOT_ZERO));
        }
        self.transform(caller, request.window, &SECRET_KEY, &request.nonce, 0)
    }

    fn decrypt(&mut self, caller: Caller, request: CryptRequest) -> Result<CryptReply, CallError> {
        self.encrypt(caller, request)
    }

    fn known_answer(&mut self, caller: Caller, window: Window) -> Result<CryptReply, CallError> {
        self.transform(caller, window, &kat::KEY, &kat::NONCE, kat::COUNTER)
    }
}

impl Handler for CryptPod {
    type Error = Infallible;

    fn protected(&mut self, channel: Channel, msg_info: MessageInfo) -> Result<MessageInfo, Infallible> {
        Ok(crypt::serve_on(self, &CALLERS, channel, msg_info))
    }

    /// Async callers (the same image as an active server behind rings).
    fn notified(&mut self, channels: ChannelSet) -> Result<(), Infallible> {
        for channel in channels.iter().filter(|c| CALLERS.contains(c)) {
            let _ = crypt::serve_queued(self, channel);
        }
        Ok(())
    }
}
