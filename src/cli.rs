//! The command-line entry point: parse, load the configuration, start logging, run.
//! `main.rs` only calls [`main`].

use std::process::ExitCode;

use clap::Parser;

use crate::config::{Cli, Command, Settings};

/// Runs the program and returns its exit status: 0 on a clean stop, 2 on a configuration
/// error or a port already in use, 1 on anything else.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.flags) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skew-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    match &cli.command {
        Some(Command::Analyze(args)) => analyze(args, &settings),
        Some(Command::Probe(args)) => probe(args, &settings),
        None if cli.flags.check_config => check_config(&settings),
        None => serve(settings),
    }
}

/// `skew-exporter analyze`: the report on stdout (`--format html`: `report::html`). Exit
/// status 1 when the input cannot be read.
fn analyze(args: &crate::config::AnalyzeArgs, settings: &Settings) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let result = match args.format {
        crate::config::AnalyzeFormat::Html => crate::report::html::run(args, settings, &mut out),
        _ => crate::analyze::run(args, settings, &mut out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skew-exporter analyze: {e}");
            ExitCode::from(1)
        }
    }
}

/// `--check-config`: the configuration loaded, so it is valid; say what it makes the exporter
/// do. Logging is not set up for a check: the JWKS keys a load skipped go to stderr.
fn check_config(settings: &Settings) -> ExitCode {
    for (path, skipped) in &settings.verify.skipped_keys {
        for s in skipped {
            let what = match s.kind {
                crate::verify::keys::SkipKind::Refused => "refused",
                crate::verify::keys::SkipKind::Ignored => "skipped",
            };
            eprintln!("skew-exporter: {}: {what} {s}", path.display());
        }
    }
    println!(
        "configuration OK: listen {} path {} over {}, {} NTP server(s) every {:?}",
        settings.web.listen_address,
        settings.web.telemetry_path,
        crate::summary::transport(settings.web.config.as_ref()),
        settings.ntp.servers.len(),
        settings.ntp.interval
    );
    for line in crate::summary::summary(settings) {
        println!("  {}: {}", line.area, line.text);
    }
    ExitCode::SUCCESS
}

/// The daemon: logging, the runtime, [`crate::app::run`] until a signal.
fn serve(settings: Settings) -> ExitCode {
    crate::logging::init(&settings.log);
    // Before anything signs or verifies a JWT: jsonwebtoken fixes its crypto provider on first
    // use, and the JWT probes, started before `/v1/verify`, sign tokens from their own tasks.
    crate::verify::crypto::install();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skew-exporter: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(crate::app::run(settings, crate::app::shutdown_signal()));
    // `run` returns within the shutdown timeout even when a task did not stop: whatever is
    // left is dropped here, without waiting for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "exiting");
            eprintln!("skew-exporter: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `skew-exporter probe`: one JWT tolerance probe, its result in words. Exit status 0 when it
/// found both edges, 1 when the probe failed, 2 when the module or target was refused.
fn probe(args: &crate::config::ProbeArgs, settings: &Settings) -> ExitCode {
    let Some(module) = settings.jwt_probe.modules.get(&args.module) else {
        let known: Vec<&str> = settings
            .jwt_probe
            .modules
            .keys()
            .map(String::as_str)
            .collect();
        eprintln!(
            "skew-exporter probe: no module `{}` in [probe.jwt.modules] (configured: {})",
            args.module,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
        return ExitCode::from(2);
    };
    let url = match module.allow(&args.target) {
        Ok(u) => u,
        Err(refusal) => {
            eprintln!("skew-exporter probe: refused: {refusal}");
            return ExitCode::from(2);
        }
    };
    crate::logging::init(&settings.log);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skew-exporter: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "probing {url} with module {} (up to {} requests, {:?})",
        module.name, module.max_requests, module.timeout
    );
    let result = runtime.block_on(crate::probe::jwt::run(module, url, module.timeout));
    print!("{}", result.describe());
    if result.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
