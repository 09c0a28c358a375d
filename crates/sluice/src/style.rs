//! Terminal colours: decides whether to colour output and paints text with ANSI styles.

use std::io::IsTerminal;

use anstyle::{AnsiColor, Effects, Style};

use crate::cli::ColorChoice;

/// Paints text when colour is on, and passes it through unchanged when it is off.
#[derive(Debug, Clone, Copy)]
pub struct Painter {
    enabled: bool,
}

impl Painter {
    /// Decides from the user's choice, `NO_COLOR` and whether stdout is a terminal.
    pub fn for_stdout(choice: ColorChoice) -> Self {
        let enabled = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        Painter { enabled }
    }

    /// `text` in `style`.
    pub fn paint(self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{}{}{}", style.render(), text, style.render_reset())
        } else {
            text.to_owned()
        }
    }

    /// Green, for pass.
    pub fn good(self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default().effects(Effects::BOLD), text)
    }

    /// Yellow, for warnings.
    pub fn warn(self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default().effects(Effects::BOLD), text)
    }

    /// Red, for failures and errors.
    pub fn bad(self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default().effects(Effects::BOLD), text)
    }

    /// Dimmed, for secondary information.
    pub fn dim(self, text: &str) -> String {
        self.paint(Style::new().effects(Effects::DIMMED), text)
    }

    /// Bold.
    pub fn bold(self, text: &str) -> String {
        self.paint(Style::new().effects(Effects::BOLD), text)
    }
}
