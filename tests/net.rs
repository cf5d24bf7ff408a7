//! The network system answers real traffic from the host (needs
//! MICROKIT_SDK), on every board (qemu_virt_aarch64 and qemu_virt_riscv64:
//! virtio-mmio; x86_64_generic: legacy virtio-pci): `tunnelkit run --net` boots it with
//! QEMU user networking and hostfwd; datagrams of varied sizes sent to
//! 127.0.0.1:5007 come back byte for byte, and sealed-echo answers from
//! 127.0.0.1:5008 decrypt on the host to what was sent.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use demo_services::cipher::Keystream;
use tunnelkit::board::Board;
use tunnelkit::net::exchange;
use tunnelkit_tests::{cargo, qemu_lock, say, sdk_or_skip, sdk_with_config_or_skip};

#[test]
fn udp_echo_answers_the_host_byte_for_byte() {
    answers_the_host("udp_echo_answers_the_host_byte_for_byte", Board::QEMU_VIRT_AARCH64, false);
}

#[test]
fn the_async_pipeline_answers_the_host_byte_for_byte() {
    answers_the_host("the_async_pipeline_answers_the_host_byte_for_byte", Board::QEMU_VIRT_AARCH64, true);
}

#[test]
fn udp_echo_answers_the_host_byte_for_byte_on_x86_64_generic() {
    answers_the_host("udp_echo_answers_the_host_byte_for_byte_on_x86_64_generic", Board::X86_64_GENERIC, false);
}

#[test]
fn the_async_pipeline_answers_the_host_byte_for_byte_on_x86_64_generic() {
    answers_the_host("the_async_pipeline_answers_the_host_byte_for_byte_on_x86_64_generic", Board::X86_64_GENERIC, true);
}

#[test]
fn udp_echo_answers_the_host_byte_for_byte_on_qemu_virt_riscv64() {
    answers_the_host("udp_echo_answers_the_host_byte_for_byte_on_qemu_virt_riscv64", Board::QEMU_VIRT_RISCV64, false);
}

#[test]
fn the_async_pipeline_answers_the_host_byte_for_byte_on_qemu_virt_riscv64() {
    answers_the_host("the_async_pipeline_answers_the_host_byte_for_byte_on_qemu_virt_riscv64", Board::QEMU_VIRT_RISCV64, true);
}

fn answers_the_host(test: &str, board: Board, async_transport: bool) {
    let Some(_sdk) = sdk_with_config_or_skip(test, board.name(), "debug") else { return };
    let _guard = qemu_lock();
    let system = tunnelkit::net::system_file(board, async_transport).expect("the board has a network system");
    // Build first so that the boot below is quick.
    let built =
        cargo().args(["run", "-q", "-p", "tunnelkit", "--", "build", "--board", board.name(), "--system", system]).output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let (console_path, console) = tunnelkit_tests::console_file(test);
    let mut run = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    run.current_dir(tunnelkit_tests::repo_root())
        .args(["run", "-q", "-p", "tunnelkit", "--", "run", "--net", "--board", board.name(), "--system", system, "--timeout", "120"])
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(console)
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
    let console_log = std::fs::read_to_string(&console_path).unwrap_or_default();
    let _ = std::fs::remove_file(&console_path);
    log = format!("{console_log}{log}");
    // On x86 the device's IRQ line must be the SDF's IOAPIC pin (else nothing would answer).
    let irq = match board {
        Board::X86_64_GENERIC => match tunnelkit_tests::assert_nic_irq_matches_sdf(test, &console_log, system) {
            Some(line) => format!(", IRQ line {line} = the SDF's pin"),
            None => ", IRQ line unreadable on the interleaved console".to_string(),
        },
        _ => String::new(),
    };
    assert!(ready, "the network system never answered on 127.0.0.1:5007:\n{log}");
    assert!(failures.is_empty(), "echo failures: {failures:?}\n{log}");
    assert!(sealed_failures.is_empty(), "sealed-echo failures: {sealed_failures:?}\n{log}");
    say(&format!("{test}: 10 sizes (1 to 1472 bytes) echoed exactly; 4 sealed echoes decrypt on the host ({system}{irq})"));
}

/// SIGTERM, SIGINT and SIGHUP sent to `tunnelkit run --net` alone (not to
/// its process group) stop its QEMU: the host ports 5007-5009 are free
/// within a second, no QEMU child is left, and the tool exits with 128 + the
/// signal. One boot per signal; the image is built once beforehand.
#[test]
fn a_signal_to_run_net_stops_its_qemu_and_frees_the_ports() {
    let test = "a_signal_to_run_net_stops_its_qemu_and_frees_the_ports";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let bin = tunnelkit_tests::tunnelkit_binary();
    let root = tunnelkit_tests::repo_root();
    let built = Command::new(&bin).current_dir(&root).args(["build", "--system", "net.xml"]).output().unwrap();
    assert!(built.status.success(), "{}", tunnelkit_tests::output_text(&built));
    let mut report = Vec::new();
    for (signal, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let mut run = Command::new(&bin);
        run.current_dir(&root).args(["run", "--net", "--timeout", "120"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        // Its own group only so that a failing test can still clean up.
        let mut child = tunnelkit_tests::spawn_group(&mut run);
        let pid = child.id();
        let lines = {
            let (tx, rx) = std::sync::mpsc::channel();
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        // Running with the ports taken: `tunnelkit: net ready`.
        let mut log = String::new();
        let start = Instant::now();
        let ready = 'wait: loop {
            while let Ok(line) = lines.recv_timeout(Duration::from_millis(300)) {
                log.push_str(&line);
                log.push('\n');
                if line.trim() == "tunnelkit: net ready" {
                    break 'wait Some("net ready");
                }
            }
            if start.elapsed() > Duration::from_secs(90) || child.try_wait().unwrap().is_some() {
                break None;
            }
        };
        let Some(ready) = ready else {
            tunnelkit_tests::kill_group(&mut child);
            panic!("{test}: SIG{signal}: no 'tunnelkit: net ready' within 90 s:\n{log}");
        };
        let qemus: Vec<u32> =
            tunnelkit_tests::children_of(pid).into_iter().filter(|(_, c)| c.starts_with("qemu-system")).map(|(p, _)| p).collect();
        assert_eq!(qemus.len(), 1, "{test}: SIG{signal}: expected one QEMU child of tunnelkit ({pid})");
        // The signal goes to tunnelkit only, not to its group.
        let sent = Instant::now();
        let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap();
        assert!(status.success(), "kill -{signal} {pid}");
        let mut free_after = None;
        while sent.elapsed() < Duration::from_secs(1) {
            if [5007u16, 5008, 5009].iter().all(|&p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
                free_after = Some(sent.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let exited = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if sent.elapsed() > Duration::from_secs(10) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
            log.push_str(&line);
            log.push('\n');
        }
        let left: Vec<u32> = qemus.iter().copied().filter(|&q| tunnelkit_tests::process_alive(q)).collect();
        if exited.is_none() || !left.is_empty() {
            tunnelkit_tests::kill_group(&mut child);
            for q in &left {
                let _ = Command::new("kill").args(["-KILL", &q.to_string()]).status();
            }
        }
        let exited = exited.unwrap_or_else(|| panic!("{test}: tunnelkit did not exit within 10 s of SIG{signal}:\n{log}"));
        assert!(left.is_empty(), "{test}: QEMU {left:?} still runs after SIG{signal} to tunnelkit:\n{log}");
        let free_after = free_after.unwrap_or_else(|| panic!("{test}: ports 5007-5009 not free within 1 s of SIG{signal}:\n{log}"));
        assert_eq!(exited.code(), Some(128 + number), "{test}: exit status after SIG{signal}:\n{log}");
        assert!(log.contains(&format!("tunnelkit: SIG{signal}: stopped 1 QEMU process; exiting")), "{test}:\n{log}");
        report.push(format!("SIG{signal} ({ready}): exit {}, ports free after {} ms", 128 + number, free_after.as_millis()));
    }
    say(&format!("{test}: {}", report.join("; ")));
}

/// `run --net --config release`: the release kernel has no console, so the
/// tool adds the console pod, and the PDs' lines reach the host through it;
/// once ready (the driver's `net: pipeline up` and, with user networking,
/// the echo port) the tool says `tunnelkit: net ready`.
#[test]
fn a_release_net_run_prints_through_the_added_console_pod() {
    let test = "a_release_net_run_prints_through_the_added_console_pod";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let bin = tunnelkit_tests::tunnelkit_binary();
    let root = tunnelkit_tests::repo_root();
    let built = Command::new(&bin).current_dir(&root).args(["build", "--system", "net.xml", "--config", "release"]).output().unwrap();
    let build_log = tunnelkit_tests::output_text(&built);
    assert!(built.status.success(), "{build_log}");
    assert!(build_log.contains("tunnelkit: added the console pod 'serial' (serial.elf, priority 254, passive) for 10 PDs"), "{build_log}");
    let mut run = Command::new(&bin);
    run.current_dir(&root)
        .args(["run", "--net", "--config", "release", "--timeout", "120"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = tunnelkit_tests::spawn_group(&mut run);
    let (tx, lines) = std::sync::mpsc::channel();
    for (tag, stream) in
        [("out", Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>), ("err", Box::new(child.stderr.take().unwrap()))]
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stream)).map_while(Result::ok) {
                if tx.send((tag, line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let (mut console, mut log) = (String::new(), String::new());
    fn take(console: &mut String, log: &mut String, (tag, line): (&str, String)) {
        let to = if tag == "out" { console } else { log };
        to.push_str(&line);
        to.push('\n');
    }
    let start = Instant::now();
    let ready = 'wait: loop {
        while let Ok(l) = lines.recv_timeout(Duration::from_millis(300)) {
            let net_ready = l.1.trim() == "tunnelkit: net ready";
            take(&mut console, &mut log, l);
            if net_ready {
                break 'wait true;
            }
        }
        if start.elapsed() > Duration::from_secs(90) || child.try_wait().unwrap().is_some() {
            break false;
        }
    };
    let answered = ready && exchange(5009, b"stats", Duration::from_secs(2)).is_ok_and(|a| a.starts_with(b"{"));
    tunnelkit_tests::kill_group(&mut child);
    while let Ok(l) = lines.recv_timeout(Duration::from_millis(500)) {
        take(&mut console, &mut log, l);
    }
    assert!(ready, "{test}: the release network system never became ready:\n{log}\n{console}");
    assert!(answered, "{test}: no stats from 127.0.0.1:5009:\n{log}\n{console}");
    for line in
        ["virtio-net: slot ", "filter_echo: 4 rules", "crypt: ready (passive pod), ChaCha20 known-answer test ok", "checksum: ready"]
    {
        assert!(console.contains(line), "{test}: the console lacks '{line}' (printed through the console pod in release):\n{console}");
    }
    assert!(console.contains("net: pipeline up"), "{test}: the driver never said 'net: pipeline up':\n{console}");
    assert!(log.contains("tunnelkit: net ready"), "{test}: the pipeline came up but the tool never said so:\n{log}");
    say(&format!("{test}: the PDs printed through the added console pod in release; net: pipeline up; tunnelkit: net ready"));
}
