//! The network system answers real traffic from the host (needs
//! MICROKIT_SDK): `tunnelkit run --net` boots it with QEMU user networking and
//! hostfwd; datagrams of varied sizes sent to 127.0.0.1:5007 come back byte
//! for byte, and sealed-echo answers from 127.0.0.1:5008 decrypt on the host
//! to what was sent.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use demo_services::cipher::Keystream;
use tunnelkit::net::exchange;
use tunnelkit_tests::{cargo, qemu_lock, say, sdk_or_skip};

#[test]
fn udp_echo_answers_the_host_byte_for_byte() {
    answers_the_host("udp_echo_answers_the_host_byte_for_byte", "net.xml");
}

#[test]
fn the_async_pipeline_answers_the_host_byte_for_byte() {
    answers_the_host("the_async_pipeline_answers_the_host_byte_for_byte", "net-async.xml");
}

fn answers_the_host(test: &str, system: &str) {
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    // Build first so that the boot below is quick.
    let built = cargo().args(["run", "-q", "-p", "tunnelkit", "--", "build", "--system", system]).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let mut run = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    run.current_dir(tunnelkit_tests::repo_root())
        .args(["run", "-q", "-p", "tunnelkit", "--", "run", "--net", "--system", system, "--timeout", "120"])
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = tunnelkit_tests::spawn_group(&mut run);

    let start = Instant::now();
    let ready = loop {
        if exchange(5007, b"probe", Duration::from_millis(300)).is_ok_and(|a| a == b"probe") {
            break true;
        }
        if start.elapsed() > Duration::from_secs(90) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut failures = Vec::new();
    if ready {
        for size in [1usize, 2, 7, 64, 100, 511, 512, 1000, 1400, 1472] {
            let payload: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(size as u8)).collect();
            // Paced: user networking drops bursts.
            let mut answer = None;
            for _ in 0..3 {
                if let Ok(a) = exchange(5007, &payload, Duration::from_secs(2)) {
                    answer = Some(a);
                    break;
                }
            }
            match answer {
                Some(a) if a == payload => {}
                Some(a) => failures.push(format!("{size} bytes: answer of {} bytes differs", a.len())),
                None => failures.push(format!("{size} bytes: no answer")),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut sealed_failures = Vec::new();
    if ready {
        // Sealed echo: nonce (12 bytes) || plaintext -> nonce || ChaCha20(test key, nonce, 0)(plaintext).
        for (i, size) in [1usize, 16, 300, 1400].into_iter().enumerate() {
            let mut nonce = [0u8; 12];
            nonce[0] = i as u8 + 1;
            nonce[11] = 0x5a;
            let plaintext: Vec<u8> = (0..size).map(|j| (j * 13 + i) as u8).collect();
            let mut request = nonce.to_vec();
            request.extend_from_slice(&plaintext);
            match exchange(5008, &request, Duration::from_secs(3)) {
                Ok(answer) if answer.len() == request.len() && answer[..12] == nonce => {
                    let mut opened = answer[12..].to_vec();
                    Keystream::new(&demo_services::DEMO_KEY, &nonce, 0).apply(&mut opened);
                    if opened != plaintext {
                        sealed_failures.push(format!("{size} bytes: does not decrypt to the plaintext"));
                    }
                    if size >= 16 && answer[12..] == plaintext[..] {
                        sealed_failures.push(format!("{size} bytes: came back unencrypted"));
                    }
                }
                Ok(answer) => sealed_failures.push(format!("{size} bytes: malformed answer of {} bytes", answer.len())),
                Err(e) => sealed_failures.push(format!("{size} bytes: {e}")),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let mut stderr = child.stderr.take().unwrap();
    tunnelkit_tests::kill_group(&mut child);
    let mut log = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
    assert!(ready, "the network system never answered on 127.0.0.1:5007:\n{log}");
    assert!(failures.is_empty(), "echo failures: {failures:?}\n{log}");
    assert!(sealed_failures.is_empty(), "sealed-echo failures: {sealed_failures:?}\n{log}");
    say(&format!("{test}: 10 sizes (1 to 1472 bytes) echoed exactly; 4 sealed echoes decrypt on the host ({system})"));
}
