//! The README's generated sections are what the generators make from the
//! committed results (no SDK needed): the benchmark Results (tables and
//! headline sentences) from `bench-results/<board>/results.json`, the
//! multicore results from `bench-results/<board>/smp/smp.json`, and the
//! network results from `bench-results/<board>/net.json`. A figure typed
//! into a generated section, or results committed without regenerating the
//! README, fails here.

use tunnelkit::bench::{net, report, smp_report};
use tunnelkit_tests::repo_root;

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).unwrap()
}

/// Fails with the first line where `generated` and `readme` differ.
fn assert_same(generated: &str, readme: &str, fix: &str) {
    if generated == readme {
        return;
    }
    let (g, r): (Vec<&str>, Vec<&str>) = (generated.lines().collect(), readme.lines().collect());
    let at = g.iter().zip(&r).position(|(a, b)| a != b).unwrap_or(g.len().min(r.len()));
    panic!(
        "README.md line {} differs from what the committed results give ({fix}):\n  README:    {:?}\n  generated: {:?}",
        at + 1,
        r.get(at).unwrap_or(&"(end)"),
        g.get(at).unwrap_or(&"(end)")
    );
}

#[test]
fn the_benchmark_results_are_generated_from_results_json() {
    let text = readme();
    let boards = report::measured_boards(&repo_root()).unwrap();
    assert!(!boards.is_empty(), "no bench-results/<board>/results.json");
    let section = report::readme_section_for_boards(&boards);
    assert_same(&report::update_readme(&text, &section), &text, "run `tunnelkit bench --board <board> --update-readme`");
    assert!(section.contains("**Headlines.**"), "the headline sentences are part of the generated section");
}

#[test]
fn the_multicore_results_are_generated_from_smp_json() {
    let text = readme();
    let boards = smp_report::measured_boards(&repo_root()).unwrap();
    assert!(!boards.is_empty(), "no bench-results/<board>/smp/smp.json");
    let updated = smp_report::update_readme(&text, &smp_report::section(&boards)).unwrap();
    assert_same(&updated, &text, "run `tunnelkit bench --config smp-benchmark --board <board> --update-readme`");
}

#[test]
fn the_network_results_are_generated_from_net_json() {
    let text = readme();
    let boards = net::measured_boards(&repo_root());
    assert!(!boards.is_empty(), "no bench-results/<board>/net.json");
    assert_same(&net::update_readme(&text, &boards), &text, "run `tunnelkit bench --net --board <board> --update-readme`");
}
