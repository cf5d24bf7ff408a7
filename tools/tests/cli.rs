//! The CLI's errors for bad set-up and bad input (no SDK needed).

use std::process::{Command, Output};

fn tunnelkit(args: &[&str], sdk: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tunnelkit"));
    c.args(args).current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    match sdk {
        Some(s) => c.env("MICROKIT_SDK", s),
        None => c.env_remove("MICROKIT_SDK"),
    };
    c.output().expect("run tunnelkit")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn missing_sdk_says_what_is_expected_and_where_it_comes_from() {
    let o = tunnelkit(&["build"], None);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("MICROKIT_SDK is not set"), "{e}");
    assert!(e.contains("bin/microkit") && e.contains("github.com/seL4/microkit"), "{e}");
}

#[test]
fn wrong_sdk_paths_are_explained() {
    let o = tunnelkit(&["build"], Some("/nonexistent/sdk"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("MICROKIT_SDK=/nonexistent/sdk is not a directory"), "{}", stderr(&o));

    let dir = std::env::temp_dir().join(format!("tunnelkit-not-an-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let o = tunnelkit(&["run"], Some(dir.to_str().unwrap()));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("has no bin/microkit, so it is not a Microkit SDK"), "{}", stderr(&o));
}

#[test]
fn bad_usage_exits_2_and_lists_the_choices() {
    let o = tunnelkit(&["run", "--board", "rpi4b_1gb"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("board 'rpi4b_1gb': tunnelkit reads its facts from the Microkit SDK, and MICROKIT_SDK is not set"),
        "{}",
        stderr(&o)
    );
    let o = tunnelkit(&["run", "--board", "pi9"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown board 'pi9'; Microkit 2.3.0 has ariane,"), "{}", stderr(&o));
    // With an SDK: which boards it holds, and what is wrong with this one.
    let sdk = std::env::temp_dir().join(format!("tunnelkit-cli-sdk-{}", std::process::id()));
    for dir in ["bin", "board/rpi4b_1gb", "board/qemu_virt_aarch64"] {
        std::fs::create_dir_all(sdk.join(dir)).unwrap();
    }
    std::fs::write(sdk.join("bin/microkit"), "").unwrap();
    let o = tunnelkit(&["run", "--board", "rpi4b_1gb"], sdk.to_str());
    let o2 = tunnelkit(&["run", "--board", "pi9"], sdk.to_str());
    std::fs::remove_dir_all(&sdk).unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("board/rpi4b_1gb holds no configuration (debug, release, …)"), "{}", stderr(&o));
    assert!(
        stderr(&o2).contains("unknown board 'pi9': the SDK at") && stderr(&o2).contains("has qemu_virt_aarch64, rpi4b_1gb"),
        "{}",
        stderr(&o2)
    );
    let o = tunnelkit(&["build", "--config", "smp-fast"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("debug, release, benchmark, smp-debug, smp-release, smp-benchmark"), "{}", stderr(&o));
}

/// A config without a kernel console is no reason to refuse a run any more
/// (the tool adds the console pod, which the SDK tests boot): without an SDK
/// the only complaint is the missing SDK.
#[test]
fn configs_without_a_console_are_not_refused_for_run() {
    let o = tunnelkit(&["run", "--config", "release"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("MICROKIT_SDK is not set"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("no kernel console"), "{}", stderr(&o));
}
