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
            eprintln!("ferroctl: {error}");
            Outcome::Failed.into()
        }
    }
}
