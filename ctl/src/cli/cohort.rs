//! `cohort ...`: the clap types of the cohort commands, and the match expression's help.

use clap::{ArgGroup, Args, Subcommand};
use veer_filter::config::wire::WireMatch;

use crate::config::match_expr;
use crate::config::request::Sample;

/// The match expression syntax, as a literal for `concat!`.
macro_rules! match_syntax {
    () => {
        "Match expressions (--match, and experiment start --segment):
  header:x-country=de                 header equals
  cookie:team^=int                    cookie starts with
  query:preview                       query parameter present
  !header:x-debug                     header absent
  path:/checkout                      path starts with
  method:POST                         method is
  everyone                            every request
  cookie:team=internal & !query:classic       all of (also `and`)
  header:x-a | header:x-b                     any of (also `or`)
  !(cookie:beta=1 | header:x-beta)            not (also `not`)
  header:user-agent^=\"Shop App/\"              quoted value (spaces, & | ( ) ! \")
`!` binds tightest, then `&`, then `|`; parentheses group. Header names are case-insensitive;
query values are percent-decoded; a path prefix is a plain prefix (/docs also matches /docsx).
Quote the whole expression for the shell: --match 'cookie:team=internal & !query:classic'."
    };
}

/// The match expression syntax, under the help of the commands that take one.
pub const MATCH_SYNTAX: &str = match_syntax!();

/// Examples under `cohort --help` and `cohort add --help`, then the syntax.
const COHORT_HELP: &str = concat!(
    "Examples:
  veerctl cohort add web employees --match 'cookie:team=internal' --variant v2 --first
  veerctl cohort add web beta-de --match 'header:x-beta=1 & header:x-country=de' --split v1=50,v2=50
  veerctl cohort add web app --match 'header:user-agent^=\"Shop App/\" & !query:classic' \\
          --variant v2 --after employees --sample 'header:user-agent=\"Shop App/3.1\"'
  veerctl --dry-run cohort move web app --first      # the rules before and after; nothing written
  veerctl cohort set web app --match 'header:user-agent^=\"Shop App/4\"'
  veerctl cohort remove web app
  veerctl cohort undo web                           # the exact inverse of the last cohort change
  veerctl cohort list web

",
    match_syntax!()
);
/// Parses `--match` and `--segment` into the config's matcher; a bad expression is a usage
/// error that says where and what was expected.
pub fn parse_match(text: &str) -> Result<WireMatch, String> {
    match_expr::parse(text).map_err(|e| format!("{e}\n\n{MATCH_SYNTAX}"))
}

/// `cohort ...`.
#[derive(Debug, Subcommand)]
#[command(after_help = COHORT_HELP)]
pub enum CohortCommand {
    /// The rules in evaluation order: match, target, and the requests each decided since the last
    /// verified change (counted by the proxies given with --admin).
    List {
        /// Only this service.
        service: Option<String>,
    },
    /// Add a rule: requests that match go to a variant (--variant) or a split of the rule's own
    /// (--split). Last by default, so no existing rule changes meaning.
    #[command(after_help = COHORT_HELP)]
    Add(AddArgs),
    /// Remove a rule: its users return to what decided them before it (experiments, the split:
    /// the same variant as before the rule, since the split's hashing is unchanged).
    Remove {
        /// Service name.
        service: String,
        /// Rule name.
        rule: String,
        #[command(flatten)]
        samples: Samples,
    },
    /// Move a rule in the evaluation order (the first rule that matches decides).
    #[command(group = ArgGroup::new("to").required(true).args(["before", "after", "first", "last"]))]
    Move {
        /// Service name.
        service: String,
        /// Rule name.
        rule: String,
        #[command(flatten)]
        position: At,
        #[command(flatten)]
        samples: Samples,
    },
    /// Change a rule's match, its target, or both.
    #[command(after_help = MATCH_SYNTAX)]
    Set(SetArgs),
    /// Undo the last cohort change of a service that is not undone yet: the exact inverse, from
    /// the change recorded as data (on Kubernetes only the WasmPlugin's last change is recorded).
    Undo {
        /// Service name.
        service: String,
        #[command(flatten)]
        samples: Samples,
    },
}

/// `cohort add`.
#[derive(Debug, Args)]
#[command(group = ArgGroup::new("target").required(true).args(["variant", "split"]))]
pub struct AddArgs {
    /// Service name.
    pub service: String,
    /// Rule name (letters, digits, '_' and '-'; counted as veer.rule.SERVICE.RULE).
    pub rule: String,
    /// Which requests the rule takes: a match expression (see below).
    #[arg(long = "match", value_name = "EXPR", value_parser = parse_match)]
    pub matcher: WireMatch,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub position: At,
    #[command(flatten)]
    pub samples: Samples,
}

/// `cohort set`.
#[derive(Debug, Args)]
#[command(group = ArgGroup::new("change").required(true).multiple(true).args(["matcher", "variant", "split"]))]
pub struct SetArgs {
    /// Service name.
    pub service: String,
    /// Rule name.
    pub rule: String,
    /// The rule's new match expression.
    #[arg(long = "match", value_name = "EXPR", value_parser = parse_match)]
    pub matcher: Option<WireMatch>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub samples: Samples,
}

/// Where a rule's requests go: --variant or --split (`add` needs one, `set` may change it).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct TargetArgs {
    /// Send every matching request to this variant.
    #[arg(long)]
    pub variant: Option<String>,
    /// Split matching requests over variants, `v1=90,v2=10` (percentages summing to 100), sticky
    /// per user with the rule's own salt.
    #[arg(long, value_name = "VARIANT=PERCENT,...")]
    pub split: Option<String>,
}

/// Where a rule goes: at most one (`add`: last by default; `move` needs one).
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct At {
    /// Just before this rule.
    #[arg(long, value_name = "RULE")]
    pub before: Option<String>,
    /// Just after this rule.
    #[arg(long, value_name = "RULE")]
    pub after: Option<String>,
    /// Before every other rule.
    #[arg(long)]
    pub first: bool,
    /// After every other rule.
    #[arg(long)]
    pub last: bool,
}

/// Sample requests to decide before and after the change.
#[derive(Debug, Args, Default)]
pub struct Samples {
    /// A request to decide on the live config and on the changed one, to see what the change does
    /// to it: the values it carries joined with &, e.g. 'cookie:team=internal & cookie:uid=ada'
    /// (header:, cookie:, query: with =VALUE; path:/PATH; method:M; repeatable). The host is the
    /// service's first, the path its prefix or /, unless given.
    #[arg(long = "sample", value_name = "REQUEST", value_parser = Sample::parse)]
    pub samples: Vec<Sample>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    /// Words of a command line as a POSIX shell reads these examples: single quotes only, `#`
    /// comments, `\` continuations.
    fn words(line: &str) -> Vec<String> {
        let line = line.split(" #").next().unwrap_or(line);
        let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '\'' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => {
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        words.push(word);
        words.retain(|w| !w.is_empty());
        words
    }

    /// What each command needs is a usage error when missing or contradictory: add a match and
    /// one target, move one place, set something to change; at most one place for add.
    #[test]
    fn missing_or_conflicting_arguments_are_usage_errors() {
        for line in [
            "veerctl cohort add web r --variant v2",
            "veerctl cohort add web r --match everyone",
            "veerctl cohort add web r --match everyone --variant v2 --split v1=50,v2=50",
            "veerctl cohort add web r --match everyone --variant v2 --first --after x",
            "veerctl cohort move web r",
            "veerctl cohort move web r --first --last",
            "veerctl cohort set web r",
            "veerctl cohort set web r --variant v1 --split v1=100",
        ] {
            let err = Cli::try_parse_from(words(line)).expect_err(line);
            assert_eq!(err.exit_code(), 2, "{line}: {err}");
        }
        for line in [
            "veerctl cohort move web r --last",
            "veerctl cohort set web r --match everyone --variant v1",
            "veerctl cohort add web r --match everyone --split v1=50,v2=50 --last",
        ] {
            if let Err(err) = Cli::try_parse_from(words(line)) {
                panic!("{line}: {err}");
            }
        }
    }

    /// Every example under `cohort --help` is a valid command line.
    #[test]
    fn the_help_examples_parse() {
        let text = COHORT_HELP.replace("\\\n", " ");
        let examples: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("veerctl "))
            .collect();
        assert_eq!(examples.len(), 8);
        for e in examples {
            if let Err(err) = Cli::try_parse_from(words(e)) {
                panic!("{e}: {err}");
            }
        }
    }
}
