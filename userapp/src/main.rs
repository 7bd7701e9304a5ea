//! ferroctl: drive and inspect the ferrofilter driver.

use std::process::ExitCode;

use clap::Parser;
use ferroctl::cli::{Cli, run};
use ferroctl::exit::Outcome;
use serde::Serialize;

/// The one JSON error object `--json` prints on stdout, for usage errors clap finds and for
/// every error a command returns. The fields are in the order the object has always had.
#[derive(Serialize)]
struct ErrorObject<'a> {
    error: &'a str,
    exit_code: u8,
    kind: &'a str,
}

fn error_object(message: &str, kind: &str, outcome: Outcome) -> String {
    let object = ErrorObject {
        error: message,
        exit_code: outcome.code(),
        kind,
    };
    // Two strings and a number always serialize.
    serde_json::to_string(&object).unwrap_or_default()
}

/// Whether `--json` was given among the options (before any `--`), for errors found before the
/// command line could be parsed.
fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            if !error.use_stderr() {
                // --help / --version: not an error.
                return Outcome::Ok.into();
            }
            if json_requested() {
                let rendered = error.render().to_string();
                let message = rendered
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ");
                println!("{}", error_object(message, "usage", Outcome::Usage));
            }
            return Outcome::Usage.into();
        }
    };
    let stdout = std::io::stdout();
    match run(&cli, &mut stdout.lock()) {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            let outcome = error.outcome();
            eprintln!("ferroctl: {error}");
            if cli.json {
                println!(
                    "{}",
                    error_object(&error.to_string(), error.kind(), outcome)
                );
            }
            outcome.into()
        }
    }
}
