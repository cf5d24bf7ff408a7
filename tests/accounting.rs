//! `tunnelkit run --accounting` on real seL4 in QEMU (needs MICROKIT_SDK):
//! the demo on every board, the network system on both boards of the issue
//! (qemu_virt_aarch64, x86_64_generic), the containment system and a crosstalk system
//! write the per-path table (README "Accounting") and its checks hold:
//! own + pods = total, the clock saw each path's time, pods only under
//! paths that call them, callers and callees count the same calls; in the
//! demo the tunnel's pods are charged to the clients (checksum under crypt)
//! and the active server's work is not (it is under crypt_ipc's own path);
//! in the crosstalk system the accounted shares follow the completed work.

use std::path::PathBuf;

use serde_json::Value;
use tunnelkit_tests::{output_text, qemu_lock, say, sdk_or_skip, tunnelkit};

/// Runs `tunnelkit run --accounting` with `args`; the JSON and the log.
fn accounted_run(test: &str, args: &[&str]) -> (Value, String) {
    let file: PathBuf = std::env::temp_dir().join(format!("tunnelkit-{test}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--accounting", file.to_str().unwrap()]);
    let out = tunnelkit(&all);
    let log = output_text(&out);
    assert!(out.status.success(), "{test}: tunnelkit run --accounting failed:\n{log}");
    assert!(log.contains(&format!("tunnelkit: wrote the accounting {}", file.display())), "{test}:\n{log}");
    assert!(!log.lines().any(|l| l.starts_with("ACCT-")), "{test}: the accountant's lines are not echoed:\n{log}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&file);
    // Every check holds, and the table says so.
    for c in json["checks"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{test}: check failed: {} — {}\n{log}", c["name"], c["detail"]);
    }
    assert!(!log.contains("FAIL "), "{test}:\n{log}");
    for p in json["paths"].as_array().unwrap() {
        let pods: f64 = p["pods"].as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
        let (total, own) = (p["total_us"].as_f64().unwrap(), p["own_us"].as_f64().unwrap());
        assert!(total > 0.0, "{test}: {} consumed nothing: {p}", p["name"]);
        assert!((own + pods - total).abs() <= (0.05 * total).max(200.0), "{test}: own + pods != total: {p}");
        say(&format!(
            "{test}: {} total {total:.0} µs, own {own:.0}, pods {pods:.0} (clock {:.0})",
            p["name"].as_str().unwrap(),
            p["clock_us"].as_f64().unwrap()
        ));
    }
    (json, log)
}

fn path<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["paths"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no path {name}: {json}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn demo(board: &str) {
    let test = format!("accounting_of_the_demo_on_{board}");
    let Some(_sdk) = tunnelkit_tests::sdk_with_config_or_skip(&test, board, "debug") else { return };
    let _guard = qemu_lock();
    let (json, log) = accounted_run(&test, &["--board", board, "--config", "debug"]);
    assert_eq!((json["board"].as_str(), json["config"].as_str(), json["at"].as_str()), (Some(board), Some("debug"), Some("pass")));
    assert!(log.contains("path / pod") && log.contains("→ checksum"), "{test}: the table is printed:\n{log}");
    let server = json["servers"].as_array().unwrap().iter().find(|s| s["name"] == "crypt_ipc").expect("crypt_ipc is a server");
    let mut via_crypt = 0;
    for client in ["client_a", "client_b"] {
        let p = path(&json, client);
        // The tunnel: crypt's time and checksum's (under crypt) are the client's.
        assert!(p["pods"]["crypt"].as_f64().unwrap() > 0.0, "{test}: {p}");
        assert!(p["pods"]["checksum"].as_f64().unwrap() > 0.0, "{test}: {p}");
        let nested = p["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pod"] == "checksum" && r["via"][0] == "crypt")
            .expect("checksum under crypt");
        via_crypt += n(&nested["calls"]);
        // The active server is not a pod of the client: its calls are counted,
        // and crypt_ipc counts the same calls from it, the same number as
        // the tunnel's (the client makes the same requests both ways).
        assert!(p["pods"].get("crypt_ipc").is_none(), "{test}: {p}");
        assert_eq!(n(&p["server_calls"]["crypt_ipc"]), n(&server["callers"][client]), "{test}: {p} {server}");
        assert_eq!(n(&p["calls"]["crypt"]), n(&server["callers"][client]), "{test}: {p} {server}");
    }
    // The server's own nested calls (its checksum) are on its own path,
    // not on the clients': they account for the other half of checksum's calls.
    let ipc = path(&json, "crypt_ipc");
    assert_eq!(n(&ipc["calls"]["checksum"]), via_crypt, "{test}: crypt_ipc checks as many sums as crypt: {ipc}");
    assert!(ipc["pods"]["checksum"].as_f64().unwrap() > 0.0, "{test}: {ipc}");
    assert_eq!(ipc["core"], 0);
}

#[test]
fn accounting_of_the_demo_on_qemu_virt_aarch64() {
    demo("qemu_virt_aarch64");
}

#[test]
fn accounting_of_the_demo_on_x86_64_generic() {
    demo("x86_64_generic");
}

#[test]
fn accounting_of_the_demo_on_qemu_virt_riscv64() {
    demo("qemu_virt_riscv64");
}

/// The containment system (supervisor, restarts, pods that spin until the
/// watchdog stops them): the spinning pods' time is on their callers.
#[test]
fn accounting_of_containment() {
    containment("accounting_of_containment", "qemu_virt_aarch64");
}

fn containment(test: &str, board: &str) {
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let (json, _) = accounted_run(
        test,
        &["--board", board, "--system", "tests/systems/containment.xml", "--config", "debug", "--timeout", "400", "--allow-pd-panics"],
    );
    for (p, pod) in [("path_x", "pod_x"), ("path_y", "pod_y")] {
        let row = path(&json, p);
        assert!(row["pods"][pod].as_f64().unwrap() > 0.5 * row["total_us"].as_f64().unwrap(), "{test}: {row}");
    }
}

/// A crosstalk system (three paths with 10 / 30 / 60 % budgets calling one
/// passive pod, benchmark config, QEMU's instruction counter): each path's
/// accounted share of the CPU is its share of the completed work.
#[test]
fn accounting_of_a_crosstalk_system() {
    let test = "accounting_of_a_crosstalk_system";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    use tunnelkit::bench::systems::Design;
    let dir = std::env::temp_dir().join(format!("tunnelkit-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let system = dir.join("crosstalk-tunnel-shared.xml");
    std::fs::write(&system, tunnelkit_tests::crosstalk_under_icount(tunnelkit::board::Board::QEMU_VIRT_AARCH64, Design::TunnelShared))
        .unwrap();
    let (json, log) = accounted_run(
        test,
        &["--system", system.to_str().unwrap(), "--config", "benchmark", "--timeout", "300", "--pass-line", "bench crosstalk path=heavy"],
    );
    let completed = |p: &str| -> f64 {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("bench crosstalk path={p} ")))
            .unwrap_or_else(|| panic!("{test}: no report of {p}:\n{log}"));
        line.split_whitespace().find_map(|w| w.strip_prefix("completed=")).unwrap().parse().unwrap()
    };
    let paths = ["light", "medium", "heavy"];
    let work: Vec<f64> = paths.iter().map(|p| completed(p)).collect();
    // The time in the shared pod on each path's behalf (the paths' own code
    // also holds their start, before the measured window).
    let cpu: Vec<f64> = paths.iter().map(|p| path(&json, p)["pods"]["work"].as_f64().unwrap()).collect();
    let (w, c) = (work.iter().sum::<f64>(), cpu.iter().sum::<f64>());
    for (i, p) in paths.iter().enumerate() {
        let (ws, cs) = (work[i] / w, cpu[i] / c);
        say(&format!("{test}: {p}: {:.1} % of the work, {:.1} % of the accounted time in the pod", 100.0 * ws, 100.0 * cs));
        // Under icount the run is the same every time; the shares agree to
        // within 1 % here (the paths start calling at slightly different times).
        assert!((ws - cs).abs() < 0.03, "{test}: {p}: work share {ws:.3} against accounted share {cs:.3}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The network system under `run --net --accounting`: it never passes, so
/// the table is written at the timeout from the last snapshot, with every
/// flow path; meanwhile the stats port reports each path's CPU.
#[test]
fn accounting_of_the_network_system_at_its_timeout() {
    network_system("accounting_of_the_network_system_at_its_timeout", tunnelkit::board::Board::QEMU_VIRT_AARCH64);
}

#[test]
fn accounting_of_the_network_system_at_its_timeout_on_x86_64_generic() {
    network_system("accounting_of_the_network_system_at_its_timeout_on_x86_64_generic", tunnelkit::board::Board::X86_64_GENERIC);
}

fn network_system(test: &str, board: tunnelkit::board::Board) {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    use tunnelkit::net::exchange;
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let file = std::env::temp_dir().join(format!("tunnelkit-{test}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let system = tunnelkit::net::system_file(board, false).expect("the board has a network system");
    let built = tunnelkit(&["build", "--accounting", "--board", board.name(), "--system", system]);
    assert!(built.status.success(), "{test}: {}", output_text(&built));
    // The console goes to a file (a pipe nobody reads would fill up).
    let (console_path, console) = tunnelkit_tests::console_file(test);
    // Killed with its QEMU if an assertion fails before it ends.
    let child = tunnelkit_tests::ChildGroup::spawn(
        Command::new(tunnelkit_tests::tunnelkit_binary())
            .current_dir(tunnelkit_tests::repo_root())
            .args(["run", "--net", "--board", board.name(), "--timeout", "40", "--accounting", file.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(console)
            .stderr(Stdio::piped()),
    );
    let start = Instant::now();
    while exchange(5007, b"probe", Duration::from_millis(300)).map_or(true, |a| a != b"probe") {
        assert!(start.elapsed() < Duration::from_secs(30), "{test}: the network system never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut echoed = 1;
    for i in 0..40u8 {
        if exchange(5007, &[i; 64], Duration::from_secs(1)).is_ok() {
            echoed += 1;
        }
        let _ = exchange(5008, &[i; 40], Duration::from_secs(1));
    }
    // The summary is refreshed every 100 ms, from the accountant's first
    // look on (on x86_64 that follows its measurement of the TSC, about 2 s).
    let start = Instant::now();
    let stats = loop {
        std::thread::sleep(Duration::from_millis(500));
        let stats = exchange(5009, b"?", Duration::from_secs(2)).expect("stats answer");
        let stats: Value =
            serde_json::from_slice(&stats).unwrap_or_else(|e| panic!("{test}: stats JSON: {e}: {}", String::from_utf8_lossy(&stats)));
        if stats.get("cpu_us").is_some() || start.elapsed() > Duration::from_secs(10) {
            break stats;
        }
    };
    for p in ["net", "path_control", "path_echo", "path_sealed"] {
        assert!(n(&stats["cpu_us"][p]) > 0, "{test}: the stats port reports {p}'s CPU: {stats}");
    }
    assert!(stats["cpu_us"].get("filter_echo").is_none(), "{test}: pods are not paths: {stats}");
    let out = child.finish().wait_with_output().unwrap();
    let log = format!("{}{}", std::fs::read_to_string(&console_path).unwrap_or_default(), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&console_path);
    assert!(out.status.success(), "{test}: {log}");
    assert!(log.contains("at the timeout, snapshot"), "{test}: {log}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(json["at"], "timeout");
    for c in json["checks"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{test}: check failed: {} — {}\n{log}", c["name"], c["detail"]);
    }
    let echo = path(&json, "path_echo");
    assert!(n(&echo["calls"]["filter_echo"]) >= echoed, "{test}: every echo went through the filter on path_echo's budget: {echo}");
    let sealed = path(&json, "path_sealed");
    assert!(sealed["pods"]["crypt"].as_f64().unwrap() > 0.0 && sealed["pods"]["checksum"].as_f64().unwrap() > 0.0, "{test}: {sealed}");
    let net = path(&json, "net");
    assert!(n(&net["calls"]["classifier"]) > 0, "{test}: the driver's classifier calls are on its budget: {net}");
    say(&format!(
        "{test}: stats cpu_us {}; path_echo {:.0} µs ({} filter calls), path_sealed {:.0} µs",
        stats["cpu_us"],
        echo["total_us"].as_f64().unwrap(),
        n(&echo["calls"]["filter_echo"]),
        sealed["total_us"].as_f64().unwrap()
    ));
}

/// A system in a user's own cargo workspace, on x86_64 in release (no
/// kernel console): it is accounted too — the accountant, like the console
/// pod, is built from tunnelkit's own workspace — and the TSC's rate comes
/// from the host.
#[test]
fn accounting_of_a_user_workspace_in_release_on_x86_64() {
    let test = "accounting_of_a_user_workspace_in_release_on_x86_64";
    let Some(_sdk) = sdk_or_skip(test) else { return };
    let _guard = qemu_lock();
    let dir = tunnelkit_tests::user_workspace(
        test,
        "let mut x = 0u64;\n    for i in 0..3_000_000u64 {\n        x = core::hint::black_box(x ^ i.wrapping_mul(31));\n    }\n    \
         debug_println!(\"hello: {x}\");\n    debug_println!(\"tunnelkit: hello passed\");",
    );
    let file = dir.join("accounting.json");
    let out = std::process::Command::new(tunnelkit_tests::tunnelkit_binary())
        .current_dir(&dir)
        .args(["run", "--board", "x86_64_generic", "--config", "release", "--timeout", "120", "--accounting"])
        .arg(&file)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let log = output_text(&out);
    let json = std::fs::read_to_string(&file).map(|t| serde_json::from_str::<Value>(&t).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{test}: the user's system did not pass with --accounting:\n{log}");
    let json = json.unwrap_or_else(|e| panic!("{test}: {e}\n{log}"));
    assert_eq!((json["config"].as_str(), json["at"].as_str()), (Some("release"), Some("pass")));
    assert!(matches!(json["hz_source"].as_str(), Some("host" | "calibrated")), "{test}: {}", json["hz_source"]);
    for c in json["checks"].as_array().unwrap() {
        assert_eq!(c["ok"], true, "{test}: check failed: {} — {}\n{log}", c["name"], c["detail"]);
    }
    let hello = path(&json, "hello");
    let total = hello["total_us"].as_f64().unwrap();
    assert!(total > 0.0 && hello["own_us"].as_f64().unwrap() > 0.5 * total, "{test}: its own loop is most of its time: {hello}");
    assert!(n(&hello["calls"]["serial"]) >= 2, "{test}: its lines went through the console pod, on its budget: {hello}");
    say(&format!("{test}: hello {total:.0} µs, {} calls into the console pod", n(&hello["calls"]["serial"])));
}

/// The multicore demo on x86_64 smp-debug, its PDs on two cores (those of
/// cores 2 and 3 moved to core 1) and QEMU given two virtual CPUs, so no
/// virtual CPU waits on a host that has two cores: the accountant reads
/// core 0's scheduling contexts, a meter on core 1 reads core 1's, and every
/// check holds. Each client's pods are the instances on its own core.
#[test]
fn accounting_across_cores_on_x86_64() {
    let test = "accounting_across_cores_on_x86_64";
    let Some(_sdk) = tunnelkit_tests::sdk_with_config_or_skip(test, "x86_64_generic", "smp-debug") else { return };
    if std::thread::available_parallelism().map_or(0, |n| n.get()) < 2 {
        say(&format!("{test}: skipped: this host has one core, and two virtual CPUs on it would wait on each other"));
        return;
    }
    let _guard = qemu_lock();
    let root = tunnelkit_tests::repo_root();
    let dir = root.join("target/tunnelkit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let system = dir.join("smp-two-cores.xml");
    let xml = std::fs::read_to_string(root.join("smp.xml")).unwrap();
    std::fs::write(&system, xml.replace("cpu=\"2\"", "cpu=\"1\"").replace("cpu=\"3\"", "cpu=\"1\"")).unwrap();
    let (json, log) = accounted_run(
        test,
        &["--board", "x86_64_generic", "--config", "smp-debug", "--cores", "2", "--system", system.to_str().unwrap(), "--timeout", "300"],
    );
    assert!(log.contains("'tunnelkit_account_meter_1' on core 1"), "{test}: a meter on core 1:\n{log}");
    assert!(!log.contains("warning: QEMU runs"), "{test}: two virtual CPUs fit the host:\n{log}");
    let meters = json["checks"].as_array().unwrap().iter().find(|c| c["name"] == "every core's meter looked").expect("the meters' check");
    assert_eq!(meters["ok"], true, "{test}: {meters}");
    assert_eq!((json["qemu_cores"].as_u64(), json["at"].as_str()), (Some(2), Some("pass")), "{test}");
    let server = json["servers"].as_array().unwrap().iter().find(|s| s["name"] == "crypt_ipc").expect("crypt_ipc is a server");
    for (client, core) in [("client_a", 0), ("client_b", 1), ("client_c", 1)] {
        let p = path(&json, client);
        assert_eq!(n(&p["core"]), core, "{test}: {p}");
        let (crypt, checksum) = (format!("crypt@{core}"), format!("checksum@{core}"));
        assert!(p["pods"][&crypt].as_f64().unwrap() > 0.0 && p["pods"][&checksum].as_f64().unwrap() > 0.0, "{test}: {p}");
        assert!(
            p["routes"].as_array().unwrap().iter().any(|r| r["pod"] == checksum.as_str() && r["via"][0] == crypt.as_str()),
            "{test}: {checksum} under {crypt}: {p}"
        );
        assert!(p["pods"].as_object().unwrap().keys().all(|k| k.ends_with(&format!("@{core}"))), "{test}: only its core's pods: {p}");
        assert!(p["pods"].get("crypt_ipc").is_none(), "{test}: {p}");
        assert_eq!(n(&p["server_calls"]["crypt_ipc"]), n(&server["callers"][client]), "{test}: {p} {server}");
    }
    assert_eq!(n(&path(&json, "crypt_ipc")["core"]), 1, "{test}");
}
