//! Runs the model check: `cargo run -p tunnelkit-model --release --example run -- [small|large]`.

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "small".into());
    let config = match which.as_str() {
        "large" => tunnelkit_model::ModelConfig::large(),
        _ => tunnelkit_model::ModelConfig::small(),
    };
    let report = tunnelkit_model::check(config);
    print!("{report}");
    std::process::exit(if report.as_expected() { 0 } else { 1 });
}
