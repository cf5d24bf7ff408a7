//! `seL4_MessageInfo`: label, capability counts and length packed in one word.

/// The `seL4_MessageInfo` word (layout from seL4's `shared_types.bf`, 64-bit):
/// `label` bits 12..64, `capsUnwrapped` 9..12, `extraCaps` 7..9, `length` 0..7.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct MessageInfo(u64);

impl MessageInfo {
    /// Largest label the word can carry (52 bits).
    pub const MAX_LABEL: u64 = (1 << 52) - 1;

    /// Builds a message info; fields wider than their bit range are truncated.
    pub const fn new(label: u64, caps_unwrapped: u64, extra_caps: u64, length: u64) -> Self {
        Self(((label & Self::MAX_LABEL) << 12) | ((caps_unwrapped & 0x7) << 9) | ((extra_caps & 0x3) << 7) | (length & 0x7f))
    }

    /// A message with `label` and `length` message registers and no capabilities
    /// (libmicrokit's `microkit_msginfo_new`).
    pub const fn with_label(label: u64, length: usize) -> Self {
        Self::new(label, 0, 0, length as u64)
    }

    /// Reinterprets a raw word (as received in `x1` / `rsi`).
    pub const fn from_word(word: u64) -> Self {
        Self(word)
    }

    /// The raw word.
    pub const fn into_word(self) -> u64 {
        self.0
    }

    /// The user label (or `seL4_Error` on a kernel reply, or the fault type).
    pub const fn label(self) -> u64 {
        self.0 >> 12
    }

    /// Bit mask of extra caps that were unwrapped to badges.
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 9) & 0x7
    }

    /// Number of extra capabilities.
    pub const fn extra_caps(self) -> u64 {
        (self.0 >> 7) & 0x3
    }

    /// Number of message registers.
    pub const fn length(self) -> usize {
        (self.0 & 0x7f) as usize
    }
}

impl core::fmt::Debug for MessageInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageInfo")
            .field("label", &self.label())
            .field("caps_unwrapped", &self.caps_unwrapped())
            .field("extra_caps", &self.extra_caps())
            .field("length", &self.length())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::MessageInfo;

    #[test]
    fn packs_fields_at_generated_bit_positions() {
        let m = MessageInfo::new(0xABCDE, 0b101, 0b10, 0x45);
        assert_eq!(m.into_word(), (0xABCDE << 12) | (0b101 << 9) | (0b10 << 7) | 0x45);
        assert_eq!((m.label(), m.caps_unwrapped(), m.extra_caps(), m.length()), (0xABCDE, 5, 2, 0x45));
    }

    #[test]
    fn truncates_oversized_fields() {
        let m = MessageInfo::new(u64::MAX, 0xff, 0xff, 0xff);
        assert_eq!(m.label(), MessageInfo::MAX_LABEL);
        assert_eq!((m.caps_unwrapped(), m.extra_caps(), m.length()), (7, 3, 127));
        assert_eq!(m.into_word(), u64::MAX);
    }

    #[test]
    fn round_trips_raw_words() {
        for w in [0u64, 1, 0x1000, 0xdead_beef_0000_0042, u64::MAX] {
            let m = MessageInfo::from_word(w);
            assert_eq!(MessageInfo::new(m.label(), m.caps_unwrapped(), m.extra_caps(), m.length() as u64).into_word(), w);
        }
    }
}
