//! The console protocol: PDs print by calling a console pod (the serial
//! driver) through a `pp` channel named by the `tunnelkit_console_channel`
//! setvar. One call carries up to [`CHUNK`] bytes: label [`WRITE`], MR0 = byte
//! count, MR1.. = the bytes, little-endian. The pod prints a call's bytes
//! without interleaving, so lines stay whole whatever the callers' budgets.

/// Label of a console write.
pub const WRITE: u64 = 0xC0DE;
/// Bytes per console call (63 message words).
pub const CHUNK: usize = 63 * 8;

/// Unpacks the bytes of a console write from message registers
/// (`get(i)` reads MR i) into `out`; returns how many there are, or `None`
/// if the message is not a well-formed console write.
pub fn decode(label: u64, length: usize, get: impl Fn(usize) -> u64, out: &mut [u8; CHUNK]) -> Option<usize> {
    if label != WRITE || length == 0 {
        return None;
    }
    let count = usize::try_from(get(0)).ok()?;
    if count > CHUNK || length != 1 + count.div_ceil(8) {
        return None;
    }
    for (i, chunk) in out[..count].chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&get(1 + i).to_le_bytes()[..chunk.len()]);
    }
    Some(count)
}

/// Packs `bytes` (at most [`CHUNK`]) into message registers with `set(i, v)`;
/// returns the message length in words.
pub fn encode(bytes: &[u8], mut set: impl FnMut(usize, u64)) -> usize {
    let bytes = &bytes[..bytes.len().min(CHUNK)];
    set(0, bytes.len() as u64);
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        set(1 + i, u64::from_le_bytes(w));
    }
    1 + bytes.len().div_ceil(8)
}

/// Sends `bytes` to the console pod on `channel`, preserving the caller's
/// message registers (printing never disturbs a message being built).
#[cfg(target_os = "none")]
pub(crate) fn write(channel: crate::Channel, bytes: &[u8]) {
    use tunnelkit_sys::ipc_buffer::{get_mr, set_mr};
    let mut saved = [0u64; 64];
    for (i, w) in saved.iter_mut().enumerate() {
        *w = get_mr(i);
    }
    // Untraced: printing is not part of what a trace shows.
    for part in bytes.chunks(CHUNK) {
        let len = encode(part, set_mr);
        channel.call_unchecked(channel.index(), tunnelkit_sys::MessageInfo::with_label(WRITE, len));
    }
    for (i, w) in saved.iter().enumerate() {
        set_mr(i, *w);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn writes_round_trip_and_bad_ones_are_refused() {
        let mut mrs = [0u64; 120];
        let text = b"client_a: pass\n";
        let len = encode(text, |i, v| mrs[i] = v);
        assert_eq!(len, 3);
        let mut out = [0u8; CHUNK];
        assert_eq!(decode(WRITE, len, |i| mrs[i], &mut out), Some(text.len()));
        assert_eq!(&out[..text.len()], text);
        assert_eq!(decode(WRITE + 1, len, |i| mrs[i], &mut out), None);
        assert_eq!(decode(WRITE, len + 1, |i| mrs[i], &mut out), None);
        mrs[0] = 10_000;
        assert_eq!(decode(WRITE, len, |i| mrs[i], &mut out), None);
    }
}
