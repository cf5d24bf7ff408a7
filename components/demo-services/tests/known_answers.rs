//! Known answers for the demo's cipher and checksum, on the host.

use demo_services::cipher::{Crc32, Keystream, crc32};
use demo_services::kat;

#[test]
fn chacha20_matches_rfc8439_section_2_4_2() {
    assert!(kat::self_test());
    let mut buf = kat::CIPHERTEXT;
    Keystream::new(&kat::KEY, &kat::NONCE, kat::COUNTER).apply(&mut buf);
    assert_eq!(&buf, kat::PLAINTEXT, "decryption restores the plaintext");
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    let mut d = Crc32::default();
    d.update(b"1234");
    d.update(b"56789");
    assert_eq!(d.finish(), 0xCBF4_3926);
}

#[test]
fn the_services_fit_in_message_registers() {
    assert_eq!(tunnelkit_tunnel::words_of::<demo_services::CryptRequest>(), 3);
    assert_eq!(tunnelkit_tunnel::words_of::<demo_services::CryptReply>(), 1);
}
