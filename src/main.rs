fn main() -> std::process::ExitCode {
    skew_exporter::cli::main()
}
