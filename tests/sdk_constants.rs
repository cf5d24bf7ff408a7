//! Every ABI constant tunnelkit hard-codes equals the SDK's own value, for
//! each supported board and config the SDK has (needs MICROKIT_SDK).

use serde_json::Value;
use tunnelkit::board::{Board, KernelConfig};
use tunnelkit_sys::labels::InvocationLabels;
use tunnelkit_tests::{say, sdk_or_skip};

fn flag(config: &Value, key: &str) -> bool {
    match config.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "ON" || s == "1" || s == "true",
        Some(Value::Number(n)) => n.as_u64() != Some(0),
        _ => false,
    }
}

#[test]
fn labels_and_config_match_the_sdk() {
    let Some(sdk) = sdk_or_skip("labels_and_config_match_the_sdk") else { return };
    let present = sdk.supported_board_configs();
    assert!(!present.is_empty(), "the SDK at {} has none of tunnelkit's boards", sdk.root().display());
    for (board, config) in present {
        let what = format!("{} {}", board.name(), config.name());
        let invocations = sdk.board_json(board, config, "invocations_all.json").unwrap();
        let ours = InvocationLabels::for_board(board, config);
        let mut checked = 0;
        for (name, label) in ours.named() {
            let theirs = invocations.get(name).and_then(Value::as_u64).unwrap_or_else(|| panic!("{what}: SDK has no label {name}"));
            assert_eq!(label, theirs, "{what}: label {name}");
            checked += 1;
        }

        let gen_config = sdk.board_json(board, config, "include/kernel/gen_config.json").unwrap();
        assert!(flag(&gen_config, "KERNEL_MCS"), "{what}: the kernel must be MCS");
        assert_eq!(flag(&gen_config, "PRINTING"), config.has_printing(), "{what}: PRINTING");
        assert_eq!(flag(&gen_config, "HARDWARE_DEBUG_API"), board.has_hardware_debug_api(config), "{what}: HARDWARE_DEBUG_API");
        if let Some(hz) = board.timer_hz() {
            let theirs = gen_config.get("TIMER_FREQUENCY").and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()));
            assert_eq!(theirs, Some(hz), "{what}: TIMER_FREQUENCY (the rate of the clock PDs read)");
        }
        assert_eq!(flag(&gen_config, "ENABLE_BENCHMARKS"), config.has_benchmarks(), "{what}: ENABLE_BENCHMARKS");

        let consts = sdk.board_json(board, config, "address_space_constants.json").unwrap();
        let top = consts.get("vspace_user_top").and_then(Value::as_u64).unwrap_or_else(|| panic!("{what}: no vspace_user_top"));
        assert_eq!(top, board.vspace_user_top(), "{what}: seL4_UserVSpaceTop (IPC buffer and stack addresses derive from it)");
        say(&format!("sdk_constants: {what}: {checked} labels, 4 config flags and vspace_user_top match"));
    }
    for board in Board::BUILT_IN {
        for config in KernelConfig::ALL {
            if sdk.board_dir(board, config).is_err() {
                say(&format!("sdk_constants: {} {}: not in this SDK, not checked", board.name(), config.name()));
            }
        }
    }
}
