//! One colour policy, resolved once: anstream's, which colours a terminal and honours
//! `NO_COLOR`, `CLICOLOR` and `CLICOLOR_FORCE` (what clap's own output follows too). Styles are
//! anstyle's; tables colour through comfy-table.

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};

/// Whether stdout gets colour.
pub fn for_stdout() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never
}

/// How a word in the report reads at a glance.
#[derive(Debug, Clone, Copy)]
pub enum Tone {
    /// Green: all is as configured.
    Good,
    /// Red: something to act on.
    Bad,
}

/// `text` in its tone's colour when `colour`, as is otherwise.
pub fn paint(text: &str, tone: Tone, colour: bool) -> String {
    if !colour {
        return text.to_owned();
    }
    let hue = match tone {
        Tone::Good => AnsiColor::Green,
        Tone::Bad => AnsiColor::Red,
    };
    let style = Style::new().fg_color(Some(hue.into())).bold();
    format!("{style}{text}{style:#}")
}
