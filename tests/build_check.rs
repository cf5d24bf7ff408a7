//! `tunnelkit build` runs the checker: a system `check` rejects is not
//! compiled, and one whose images break the tool's image rules does not
//! reach the microkit tool; both stop with `check`'s own diagnostics.

use std::path::PathBuf;

use tunnelkit_tests::{output_text, repo_root, say, sdk_or_skip, tunnelkit};

/// A system next to the repository's root (so `build` compiles this
/// workspace's PDs for it) with `body` inside `<system>`.
fn system(name: &str, body: &str) -> PathBuf {
    let dir = repo_root().join("target/build-check");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("<system>\n{body}</system>\n")).unwrap();
    path
}

#[test]
fn build_stops_before_compiling_on_a_structural_error() {
    let Some(_sdk) = sdk_or_skip("build_stops_before_compiling_on_a_structural_error") else { return };
    let path = system(
        "bad-priority.xml",
        "    <protection_domain name=\"client\" priority=\"300\">\n        <program_image path=\"demo-client.elf\" />\n    </protection_domain>\n",
    );
    let file = path.display().to_string();
    let o = tunnelkit(&["build", "--board", "qemu_virt_aarch64", "--config", "debug", "--system", &file]);
    let text = output_text(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains(&format!("{file}:2:38: error: priority-range: priority 300 is above 254")), "{text}");
    assert!(!text.contains("compiling"), "nothing is compiled for a system check rejects:\n{text}");
    // The same line as `tunnelkit check`.
    let c = tunnelkit(&["check", &file, "--board", "qemu_virt_aarch64", "--config", "debug", "--no-images"]);
    assert!(output_text(&c).contains(&format!("{file}:2:38: error: priority-range: priority 300 is above 254")));
    say("build_stops_before_compiling_on_a_structural_error: stopped with check's diagnostic");
}

#[test]
fn build_stops_before_the_microkit_tool_on_an_image_error() {
    let Some(_sdk) = sdk_or_skip("build_stops_before_the_microkit_tool_on_an_image_error") else { return };
    // demo-client.elf is linked at 0x200000: a map at 0x201000 lands in its text.
    let path = system(
        "map-over-image.xml",
        "    <memory_region name=\"buf\" size=\"0x1000\" />\n    <protection_domain name=\"client\" priority=\"10\">\n        <program_image path=\"demo-client.elf\" />\n        <map mr=\"buf\" vaddr=\"0x201000\" perms=\"rw\" />\n    </protection_domain>\n",
    );
    let file = path.display().to_string();
    let o = tunnelkit(&["build", "--board", "qemu_virt_aarch64", "--config", "debug", "--system", &file]);
    let text = output_text(&o);
    assert!(!o.status.success(), "{text}");
    assert!(text.contains(&format!("{file}:5:9: error: map-image-overlap: mapping 'buf' at [0x201000..0x202000)")), "{text}");
    assert!(!text.contains("tunnelkit: microkit "), "the microkit tool must not run:\n{text}");
    say("build_stops_before_the_microkit_tool_on_an_image_error: stopped with check's diagnostic");
}
