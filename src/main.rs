use clap::Parser;
use std::process::ExitCode;

/// mimalloc, not the system allocator: a store of 100,000 secrets is a million small
/// allocations, and glibc's malloc and free were a third of `check`, `set` and `plan` there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay`, which libmimalloc-sys names no constant for: in mimalloc.h's enum
/// (v2 and v3) it is the option just before `mi_option_use_numa_nodes`.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t =
    libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Memory freed goes back to the system after 10 ms, not mimalloc's 1 s: with 1 s, `list
/// --json` of 100,000 secrets peaked at 338 MiB instead of 222 MiB. Not at once either (0):
/// each page given back and taken again is zeroed anew, a tenth of a no-change plan of 10,000
/// (0.20–0.21 s against 0.18–0.19 s, with the same peaks). `MIMALLOC_PURGE_DELAY` overrides it.
fn tune_allocator() {
    // SAFETY: sets one of mimalloc's documented options to a documented value.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 10) };
}

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

/// A hint for the usage mistakes people make most.
fn usage_tip(e: &clap::Error) -> Option<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run_at = args.iter().position(|a| a == "run")?;
    (e.kind() == clap::error::ErrorKind::UnknownArgument && !args.iter().any(|a| a == "--")).then(
        || {
            const TAKES_VALUE: [&str; 4] = ["--env", "--from", "--prefix", "--redact-min-len"];
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            let mut rest = args[run_at + 1..].iter();
            while let Some(a) = rest.next() {
                if !theirs.is_empty() || !a.starts_with("--") {
                    theirs.push(a.as_str());
                    continue;
                }
                ours.push(a.as_str());
                if TAKES_VALUE.contains(&a.as_str()) {
                    ours.extend(rest.next().map(String::as_str));
                }
            }
            format!(
                "tip: the command to run goes after `--`: secretsync run {}{}-- {}",
                ours.join(" "),
                if ours.is_empty() { "" } else { " " },
                theirs.join(" ")
            )
        },
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    tune_allocator();
    exit_quietly_on_broken_pipe();
    // Usage errors exit 1 like every other error: exit 2 means "changes, drift or missing".
    let cli = match secretsync::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if let Some(tip) = usage_tip(&e) {
                eprintln!("{tip}");
            }
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let (json, verbose) = (cli.json, cli.verbose > 0);
    if let Err(e) = secretsync::logs::init(cli.log_level(), cli.log_format) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    match secretsync::cli::execute(cli).await {
        Ok(outcome) => outcome.into(),
        // The reader went away (`| head`): nothing to say, as ripgrep does.
        Err(err) if err.is::<secretsync::output::StdoutClosed>() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in secretsync::app::causes(&err, verbose) {
                eprintln!("  caused by: {cause}");
            }
            if json {
                // A program reading stdout gets a document too, not an empty stream.
                let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
                let doc = serde_json::json!({
                    "error": { "message": err.to_string(), "causes": causes },
                    "exit_code": 1,
                });
                println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            }
            ExitCode::from(1)
        }
    }
}
