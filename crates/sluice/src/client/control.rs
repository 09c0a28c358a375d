//! `sluice abort|pause|resume sequence`: the sequence control endpoint.

use anyhow::Result;
use serde_json::{Value, json};

use super::http::{block_on, segment};
use crate::cli::SequenceControlArgs;

/// What to do with a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    /// `abort`
    Abort,
    /// `pause`
    Pause,
    /// `resume`
    Resume,
}

impl ControlAction {
    /// The wire value of `state`.
    pub fn wire(self) -> &'static str {
        match self {
            ControlAction::Abort => "abort",
            ControlAction::Pause => "pause",
            ControlAction::Resume => "resume",
        }
    }

    fn done(self) -> &'static str {
        match self {
            ControlAction::Abort => "aborted",
            ControlAction::Pause => "paused",
            ControlAction::Resume => "resumed",
        }
    }
}

/// Path and body of the control call.
pub fn control_request(args: &SequenceControlArgs, action: ControlAction) -> (String, Value) {
    (
        format!(
            "/api/controlPlane/v1/sequence/{}/{}/control",
            segment(&args.project),
            segment(&args.keptn_context)
        ),
        json!({"state": action.wire(), "stage": args.stage.clone().unwrap_or_default()}),
    )
}

/// Runs `sluice abort|pause|resume sequence`.
pub fn run(args: &SequenceControlArgs, action: ControlAction) -> Result<i32> {
    let api = super::connect()?;
    let (path, body) = control_request(args, action);
    match block_on(api.post(&path, &body))? {
        Ok(_) => {}
        Err(e) if e.is_not_found() => anyhow::bail!(
            "no sequence with context {} in project {} ({e})",
            args.keptn_context,
            args.project
        ),
        Err(e) => return Err(e.into()),
    }
    let scope = args
        .stage
        .as_deref()
        .map(|s| format!(" in stage {s}"))
        .unwrap_or_default();
    println!("Sequence {} {}{scope}", args.keptn_context, action.done());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_body() {
        let args = SequenceControlArgs {
            project: "sockshop".into(),
            keptn_context: "c-1".into(),
            stage: None,
        };
        let (path, body) = control_request(&args, ControlAction::Pause);
        assert_eq!(path, "/api/controlPlane/v1/sequence/sockshop/c-1/control");
        assert_eq!(body, json!({"state": "pause", "stage": ""}));
    }
}
