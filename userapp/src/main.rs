//! ferroctl: drive and inspect the ferrofilter driver.

use std::process::ExitCode;

use clap::Parser;
use ferroctl::cli::{Cli, run};
use ferroctl::exit::Outcome;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                Outcome::Usage.into()
            } else {
                Outcome::Ok.into()
            };
        }
    };
    let stdout = std::io::stdout();
    match run(&cli, &mut stdout.lock()) {
        Ok(outcome) => outcome.into(),
        Err(error) => {
            let outcome = error.outcome();
            eprintln!("ferroctl: {error}");
            if cli.json {
                let object = serde_json::json!({
                    "error": error.to_string(),
                    "kind": error.kind(),
                    "exit_code": outcome.code(),
                });
                println!("{object}");
            }
            outcome.into()
        }
    }
}
