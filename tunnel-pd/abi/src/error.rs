//! seL4's error codes (`seL4_Error`), as a type: what an invocation's reply
//! label says when it is not 0.

use core::fmt;

/// An error an seL4 invocation returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel4Error {
    /// `seL4_InvalidArgument` (1).
    InvalidArgument,
    /// `seL4_InvalidCapability` (2): e.g. an empty slot.
    InvalidCapability,
    /// `seL4_IllegalOperation` (3): e.g. an I/O port invocation on AArch64.
    IllegalOperation,
    /// `seL4_RangeError` (4): e.g. a port outside the capability's range.
    RangeError,
    /// `seL4_AlignmentError` (5).
    AlignmentError,
    /// `seL4_FailedLookup` (6): no capability where the invocation names one.
    FailedLookup,
    /// `seL4_TruncatedMessage` (7).
    TruncatedMessage,
    /// `seL4_DeleteFirst` (8).
    DeleteFirst,
    /// `seL4_RevokeFirst` (9).
    RevokeFirst,
    /// `seL4_NotEnoughMemory` (10).
    NotEnoughMemory,
    /// A code seL4 16 does not define.
    Other(u64),
}

impl Sel4Error {
    /// The error a non-zero reply label stands for.
    pub const fn from_label(label: u64) -> Self {
        match label {
            1 => Sel4Error::InvalidArgument,
            2 => Sel4Error::InvalidCapability,
            3 => Sel4Error::IllegalOperation,
            4 => Sel4Error::RangeError,
            5 => Sel4Error::AlignmentError,
            6 => Sel4Error::FailedLookup,
            7 => Sel4Error::TruncatedMessage,
            8 => Sel4Error::DeleteFirst,
            9 => Sel4Error::RevokeFirst,
            10 => Sel4Error::NotEnoughMemory,
            other => Sel4Error::Other(other),
        }
    }

    /// `Ok(())` for label 0, else the error.
    pub const fn check(label: u64) -> Result<(), Self> {
        if label == 0 { Ok(()) } else { Err(Self::from_label(label)) }
    }

    /// Its code (`seL4_Error`).
    pub const fn code(self) -> u64 {
        match self {
            Sel4Error::InvalidArgument => 1,
            Sel4Error::InvalidCapability => 2,
            Sel4Error::IllegalOperation => 3,
            Sel4Error::RangeError => 4,
            Sel4Error::AlignmentError => 5,
            Sel4Error::FailedLookup => 6,
            Sel4Error::TruncatedMessage => 7,
            Sel4Error::DeleteFirst => 8,
            Sel4Error::RevokeFirst => 9,
            Sel4Error::NotEnoughMemory => 10,
            Sel4Error::Other(c) => c,
        }
    }

    /// Its seL4 name (`seL4_FailedLookup`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Sel4Error::InvalidArgument => "seL4_InvalidArgument",
            Sel4Error::InvalidCapability => "seL4_InvalidCapability",
            Sel4Error::IllegalOperation => "seL4_IllegalOperation",
            Sel4Error::RangeError => "seL4_RangeError",
            Sel4Error::AlignmentError => "seL4_AlignmentError",
            Sel4Error::FailedLookup => "seL4_FailedLookup",
            Sel4Error::TruncatedMessage => "seL4_TruncatedMessage",
            Sel4Error::DeleteFirst => "seL4_DeleteFirst",
            Sel4Error::RevokeFirst => "seL4_RevokeFirst",
            Sel4Error::NotEnoughMemory => "seL4_NotEnoughMemory",
            Sel4Error::Other(_) => "an unknown seL4 error",
        }
    }
}

impl fmt::Display for Sel4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 1..=11 {
            assert_eq!(Sel4Error::from_label(code).code(), code);
        }
        assert_eq!(Sel4Error::check(0), Ok(()));
        assert_eq!(Sel4Error::check(6), Err(Sel4Error::FailedLookup));
        assert_eq!(Sel4Error::FailedLookup.to_string(), "seL4_FailedLookup (6)");
    }
}
