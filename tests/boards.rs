//! Every Microkit board: what `build`, `run` and `check` say about boards
//! the SDK holds, lacks, or that are no board at all. (The demo built for
//! every board and config the SDK holds: `qemu.rs`.)

use std::process::{Command, Output};

use tunnelkit::board::{MICROKIT_BOARDS, boots_in_qemu};
use tunnelkit_tests::{repo_root, say, sdk_or_skip, tunnelkit_binary};

fn text(out: &Output) -> String {
    tunnelkit_tests::output_text(out)
}

/// Runs the tunnelkit binary in the repository with `MICROKIT_SDK` as given.
fn tunnelkit_with_sdk(sdk: Option<&std::path::Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(tunnelkit_binary());
    cmd.current_dir(repo_root()).args(args);
    match sdk {
        Some(s) => cmd.env("MICROKIT_SDK", s),
        None => cmd.env_remove("MICROKIT_SDK"),
    };
    cmd.output().expect("running tunnelkit")
}

#[test]
fn an_unknown_board_lists_the_sdks_boards_and_a_missing_one_says_so() {
    let test = "an_unknown_board_lists_the_sdks_boards_and_a_missing_one_says_so";
    // Without an SDK: Microkit's boards, and that a real board needs the SDK.
    let out = tunnelkit_with_sdk(None, &["build", "--board", "pi5"]);
    let log = text(&out);
    assert!(!out.status.success() && log.contains("unknown board 'pi5'; Microkit 2.3.0 has ariane, cheshire"), "{log}");
    let out = tunnelkit_with_sdk(None, &["check", "--board", "star64", "system.xml"]);
    let log = text(&out);
    assert!(!out.status.success() && log.contains("board 'star64': tunnelkit reads its facts from the Microkit SDK"), "{log}");
    let Some(sdk) = sdk_or_skip(test) else { return };
    let boards = sdk.boards();
    let out = tunnelkit_with_sdk(Some(sdk.root()), &["build", "--board", "pi5"]);
    let log = text(&out);
    assert!(!out.status.success() && log.contains(&format!("the SDK at {} has {}", sdk.root().display(), boards.join(", "))), "{log}");
    match MICROKIT_BOARDS.iter().find(|b| !boards.iter().any(|o| o == *b)) {
        Some(missing) => {
            let out = tunnelkit_with_sdk(Some(sdk.root()), &["build", "--board", missing]);
            let log = text(&out);
            assert!(!out.status.success() && log.contains(&format!("has no board '{missing}'")), "{log}");
            say(&format!("{test}: 'pi5' lists the SDK's {} boards; '{missing}' is said to be missing from it", boards.len()));
        }
        None => say(&format!("{test}: the SDK holds every Microkit board: no missing one to ask for")),
    }
}

#[test]
fn a_real_board_builds_but_does_not_boot() {
    let test = "a_real_board_builds_but_does_not_boot";
    let Some(sdk) = sdk_or_skip(test) else { return };
    let boards = sdk.all_boards().expect("the SDK's boards");
    let Some(real) = boards.iter().find(|b| !boots_in_qemu(**b)) else {
        say(&format!("{test}: skipped: the SDK at {} holds only QEMU boards", sdk.root().display()));
        return;
    };
    let out = tunnelkit_with_sdk(Some(sdk.root()), &["run", "--board", real.name()]);
    let log = text(&out);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains(&format!("board '{}' is real hardware", real.name()))
            && log.contains(&format!("`tunnelkit build --board {}` makes its image", real.name())),
        "{log}"
    );
    let out = tunnelkit_with_sdk(Some(sdk.root()), &["bench", "--board", real.name()]);
    assert!(!out.status.success() && text(&out).contains("is real hardware"), "{}", text(&out));
    say(&format!("{test}: run and bench on {} say it does not boot in QEMU", real.name()));
}

/// `check --board` knows every board the SDK holds: the demo is valid on
/// each; the network system is, except on real hardware, where its
/// virtio-net driver is an error at its line.
#[test]
fn check_knows_every_board_the_sdk_holds() {
    let test = "check_knows_every_board_the_sdk_holds";
    let Some(sdk) = sdk_or_skip(test) else { return };
    let boards = sdk.all_boards().expect("the SDK's boards");
    for board in &boards {
        let name = board.name();
        let out = tunnelkit_with_sdk(Some(sdk.root()), &["check", "--no-images", "--board", name, "system.xml"]);
        assert!(out.status.success(), "{name}: system.xml:\n{}", text(&out));
        if board.arch() == tunnelkit::board::Arch::X86_64 {
            continue;
        }
        let out = tunnelkit_with_sdk(Some(sdk.root()), &["check", "--no-images", "--board", name, "net.xml"]);
        let log = text(&out);
        if boots_in_qemu(*board) {
            assert!(!log.contains("device-board"), "{name}: net.xml:\n{log}");
        } else {
            assert!(
                !out.status.success() && log.contains("net.xml:35:9: error: device-board: PD 'net' runs tunnelkit's virtio-net driver"),
                "{name}: net.xml:\n{log}"
            );
        }
    }
    say(&format!("{test}: system.xml valid on {} boards; net.xml's driver refused on the real ones", boards.len()));
}
