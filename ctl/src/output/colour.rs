//! One colour policy, resolved once: anstream's, which colours a terminal and honours
//! `NO_COLOR`, `CLICOLOR` and `CLICOLOR_FORCE` (what clap's own output follows too). Words are
//! styled with owo-colors, whose one combined sequence per style (`ESC[32;1m`) is what veerctl
//! has always written; tables colour through comfy-table.

use anstream::ColorChoice;
use owo_colors::{OwoColorize, Style};

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
    let style = match tone {
        Tone::Good => Style::new().green().bold(),
        Tone::Bad => Style::new().red().bold(),
    };
    text.style(style).to_string()
}
