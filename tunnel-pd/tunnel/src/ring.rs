//! The async transport (sDDF style): a request queue and a response queue,
//! each a single-producer / single-consumer ring of message slots in a
//! region both PDs map, plus a notification each way. The caller's thread
//! never enters the callee: the callee's own scheduling context does the work.
//!
//! Region layout (offsets in bytes; indices are free-running `u32`s):
//!
//! | offset | field |
//! |---|---|
//! | 0 / 4 | request head (caller writes) / tail (callee writes) |
//! | 64 / 68 | response head (callee writes) / tail (caller writes) |
//! | 128 | [`SLOTS`] request slots, then [`SLOTS`] response slots |
//!
//! A slot is 66 words: the message label, its length, and 64 message words.

use tunnelkit_runtime::MessageInfo;

use crate::message::MessageRegisters;

/// Slots per queue.
pub const SLOTS: u32 = 4;
/// Words in a slot: label, length, 64 message words.
const SLOT_WORDS: usize = 2 + crate::MAX_MESSAGE_WORDS;
const SLOT_BYTES: u64 = SLOT_WORDS as u64 * 8;
const REQUEST_HEAD: u64 = 0;
const REQUEST_TAIL: u64 = 4;
const RESPONSE_HEAD: u64 = 64;
const RESPONSE_TAIL: u64 = 68;
const REQUEST_SLOTS: u64 = 128;
const RESPONSE_SLOTS: u64 = REQUEST_SLOTS + SLOTS as u64 * SLOT_BYTES;
/// Bytes a ring region needs at least.
pub const RING_BYTES: u64 = RESPONSE_SLOTS + SLOTS as u64 * SLOT_BYTES;

/// Memory holding a ring pair (the shared region on seL4, a buffer in tests).
pub trait RingMemory {
    /// Loads a 32-bit index with acquire ordering.
    fn load_acquire(&self, offset: u64) -> u32;
    /// Stores a 32-bit index with release ordering.
    fn store_release(&self, offset: u64, value: u32);
    /// Reads an 8-byte-aligned word.
    fn read_word(&self, offset: u64) -> u64;
    /// Writes an 8-byte-aligned word.
    fn write_word(&self, offset: u64, value: u64);
}

/// One direction of a ring pair.
#[derive(Clone, Copy)]
struct Queue {
    head: u64,
    tail: u64,
    slots: u64,
}

const REQUESTS: Queue = Queue { head: REQUEST_HEAD, tail: REQUEST_TAIL, slots: REQUEST_SLOTS };
const RESPONSES: Queue = Queue { head: RESPONSE_HEAD, tail: RESPONSE_TAIL, slots: RESPONSE_SLOTS };

/// The queue is full (the consumer is behind by [`SLOTS`] messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

impl Queue {
    /// Appends the message `info` with its words from `mrs`.
    fn push(self, mem: &impl RingMemory, info: MessageInfo, mrs: &impl MessageRegisters) -> Result<(), Full> {
        let head = mem.load_acquire(self.head);
        let tail = mem.load_acquire(self.tail);
        if head.wrapping_sub(tail) >= SLOTS {
            return Err(Full);
        }
        let len = info.length().min(crate::MAX_MESSAGE_WORDS);
        let at = self.slots + u64::from(head % SLOTS) * SLOT_BYTES;
        mem.write_word(at, info.label());
        mem.write_word(at + 8, len as u64);
        for i in 0..len {
            mem.write_word(at + 16 + 8 * i as u64, mrs.get(i));
        }
        mem.store_release(self.head, head.wrapping_add(1));
        Ok(())
    }

    /// Removes the oldest message, writing its words to `mrs`.
    fn pop(self, mem: &impl RingMemory, mrs: &mut impl MessageRegisters) -> Option<MessageInfo> {
        let head = mem.load_acquire(self.head);
        let tail = mem.load_acquire(self.tail);
        if head == tail {
            return None;
        }
        let at = self.slots + u64::from(tail % SLOTS) * SLOT_BYTES;
        let label = mem.read_word(at);
        let len = (mem.read_word(at + 8) as usize).min(crate::MAX_MESSAGE_WORDS);
        for i in 0..len {
            mrs.set(i, mem.read_word(at + 16 + 8 * i as u64));
        }
        mem.store_release(self.tail, tail.wrapping_add(1));
        Some(MessageInfo::with_label(label, len))
    }
}

/// Caller side: queue a request.
pub fn push_request(mem: &impl RingMemory, info: MessageInfo, mrs: &impl MessageRegisters) -> Result<(), Full> {
    REQUESTS.push(mem, info, mrs)
}

/// Caller side: take a response, if one is ready.
pub fn pop_response(mem: &impl RingMemory, mrs: &mut impl MessageRegisters) -> Option<MessageInfo> {
    RESPONSES.pop(mem, mrs)
}

/// Callee side: answers queued requests with `handle` until the request
/// queue is empty or the response queue is full; returns how many it answered.
pub fn serve_queued<M: MessageRegisters>(
    mem: &impl RingMemory,
    mrs: &mut M,
    mut handle: impl FnMut(MessageInfo, &mut M) -> MessageInfo,
) -> usize {
    let mut served = 0;
    loop {
        let (head, tail) = (mem.load_acquire(RESPONSE_HEAD), mem.load_acquire(RESPONSE_TAIL));
        if head.wrapping_sub(tail) >= SLOTS {
            return served;
        }
        let Some(request) = REQUESTS.pop(mem, mrs) else { return served };
        let reply = handle(request, mrs);
        RESPONSES.push(mem, reply, mrs).expect("checked for room above");
        served += 1;
    }
}

#[cfg(target_os = "none")]
mod target {
    use super::*;
    use crate::error::CallError;
    use crate::message::IpcBuffer;
    use crate::transport::Transport;
    use tunnelkit_runtime::{Channel, SharedMemory};

    impl RingMemory for SharedMemory {
        fn load_acquire(&self, offset: u64) -> u32 {
            self.load_acquire_u32(offset).unwrap_or(0)
        }
        fn store_release(&self, offset: u64, value: u32) {
            let _ = self.store_release_u32(offset, value);
        }
        fn read_word(&self, offset: u64) -> u64 {
            self.read_u64(offset).unwrap_or(0)
        }
        fn write_word(&self, offset: u64, value: u64) {
            let _ = self.write_u64(offset, value);
        }
    }

    /// The ring region of `channel`, checked to be large enough.
    fn region(channel: Channel) -> Option<SharedMemory> {
        SharedMemory::ring(channel.index()).filter(|r| r.size() >= RING_BYTES)
    }

    /// An async connection: requests through the ring region of a channel,
    /// a notification to the callee, and a wait for its notification back.
    #[derive(Clone, Copy, Debug)]
    pub struct Async {
        channel: Channel,
        ring: SharedMemory,
        ipc_buffer: IpcBuffer,
    }

    impl Async {
        /// The async connection on `channel` (needs `tunnel_ring_*` setvars
        /// for the channel and `notify` on both ends).
        pub fn new(channel: Channel) -> Result<Self, CallError> {
            let ring = region(channel).ok_or(CallError::NoLentRegion)?;
            Ok(Self { channel, ring, ipc_buffer: IpcBuffer })
        }
    }

    impl Async {
        /// [`Transport::call`] kept out of line, so a [`crate::Connection`]
        /// that is a protected call does not pay for the ring path's frame.
        #[inline(never)]
        pub(crate) fn call_out_of_line(&mut self, info: MessageInfo) -> Result<MessageInfo, CallError> {
            self.call(info)
        }
    }

    impl Transport for Async {
        type Registers = IpcBuffer;

        fn registers(&mut self) -> &mut IpcBuffer {
            &mut self.ipc_buffer
        }

        fn call(&mut self, info: MessageInfo) -> Result<MessageInfo, CallError> {
            push_request(&self.ring, info, &self.ipc_buffer).map_err(|Full| CallError::Busy)?;
            self.channel.notify().map_err(CallError::Channel)?;
            loop {
                if let Some(reply) = pop_response(&self.ring, &mut self.ipc_buffer) {
                    return Ok(reply);
                }
                tunnelkit_runtime::wait_for(self.channel);
            }
        }
    }

    /// Callee side on seL4: answers every request queued on `channel` with
    /// `dispatch` (message words in the IPC buffer) and notifies the caller
    /// once if any were answered. Returns how many were.
    pub fn serve_channel(
        channel: Channel,
        mut dispatch: impl FnMut(MessageInfo, &mut IpcBuffer) -> MessageInfo,
    ) -> Result<usize, CallError> {
        let ring = region(channel).ok_or(CallError::NoLentRegion)?;
        let served = serve_queued(&ring, &mut IpcBuffer, |info, mrs| dispatch(info, mrs));
        if served > 0 {
            channel.notify().map_err(CallError::Channel)?;
        }
        Ok(served)
    }
}

#[cfg(target_os = "none")]
pub use target::{Async, serve_channel};

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::ArrayRegisters;

    use crate::test_memory::Buffer;

    fn message(tag: u64, len: usize) -> (MessageInfo, ArrayRegisters) {
        let mut mrs = ArrayRegisters::default();
        for i in 0..len {
            mrs.set(i, tag * 1000 + i as u64);
        }
        (MessageInfo::with_label(tag, len), mrs)
    }

    #[test]
    fn requests_come_out_in_order_until_full_and_wrap_around() {
        let mem = Buffer::new(RING_BYTES as usize);
        let mut next = 1u64;
        let mut expected = 1u64;
        for round in 0..10 {
            let burst = 1 + round % SLOTS as usize;
            for _ in 0..burst {
                let (info, mrs) = message(next, (next as usize * 7) % 65);
                push_request(&mem, info, &mrs).unwrap();
                next += 1;
            }
            if burst == SLOTS as usize {
                let (info, mrs) = message(999, 1);
                assert_eq!(push_request(&mem, info, &mrs), Err(Full));
            }
            let served = serve_queued(&mem, &mut ArrayRegisters::default(), |info, mrs| {
                assert_eq!(info.label(), expected);
                let len = info.length();
                assert_eq!(len, (expected as usize * 7) % 65);
                for i in 0..len {
                    assert_eq!(mrs.get(i), expected * 1000 + i as u64);
                }
                expected += 1;
                MessageInfo::with_label(0, 1)
            });
            assert_eq!(served, burst);
            for _ in 0..burst {
                assert_eq!(pop_response(&mem, &mut ArrayRegisters::default()), Some(MessageInfo::with_label(0, 1)));
            }
            assert_eq!(pop_response(&mem, &mut ArrayRegisters::default()), None);
        }
    }

    #[test]
    fn a_full_response_queue_stops_the_callee() {
        let mem = Buffer::new(RING_BYTES as usize);
        for round in 0..2 {
            for i in 0..SLOTS as u64 {
                let (info, mrs) = message(round * 10 + i + 1, 0);
                push_request(&mem, info, &mrs).unwrap();
            }
            let served = serve_queued(&mem, &mut ArrayRegisters::default(), |_, _| MessageInfo::with_label(0, 0));
            assert_eq!(served, if round == 0 { SLOTS as usize } else { 0 }, "round {round}");
        }
    }
}
