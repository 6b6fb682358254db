use clap::Parser;
use std::process::ExitCode;

/// A reader that closed the pipe (`secretsync list | head -1`) ends the program quietly, as
/// ripgrep does. The printer reports it as `StdoutClosed`; for any `print!` left outside the
/// printer (it reports a closed stdout by panicking) the hook recognises that one panic and
/// exits 0 without a word. Every other panic is reported as usual.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

#[tokio::main]
async fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    // Usage errors exit 1 like every other error: exit 2 means "changes, drift or missing".
    let cli = match secretsync::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match secretsync::cli::execute(cli).await {
        Ok(outcome) => outcome.into(),
        // The reader went away (`| head`): nothing to say, as ripgrep does.
        Err(err) if err.is::<secretsync::output::StdoutClosed>() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}
