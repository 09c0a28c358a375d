//! The `sluice` binary: parses the command line and runs one subcommand.

mod bench;
mod cli;
mod client;
mod deploy;
mod evaluate;
mod import;
mod lint;
mod load;
mod quickstart;
mod server;
mod style;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    BaselineCommand, Cli, ClusterCommand, Command, ConfigureCommand, CreateCommand, DeleteCommand,
    DeploymentsCommand, GetCommand, ImportCommand, SendCommand, SequenceControlCommand,
    TokenCommand, TriggerCommand, UpdateCommand,
};
use crate::client::approval::Decision;
use crate::client::control::ControlAction;

/// mimalloc instead of the C library's allocator: the server allocates and frees many small
/// buffers per event on several threads. The crate's `override` feature makes it the C code's
/// `malloc` too (SQLite, libgit2, zlib; see ARCHITECTURE.md, "Dependencies").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Server(args) => server::run(args),
        Command::Helloservice(args) => server::helloservice(args),
        Command::JobSupervise => {
            let code = sluice_server::services::jobs::supervisor::main();
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
        Command::Load(args) => load::run(args),
        Command::Logs(args) => client::logs::run(args),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Deploy(args) => deploy::deploy(args),
        Command::Rollback(args) => deploy::rollback(args),
        Command::Scale(args) => deploy::scale(args),
        Command::Deployments(DeploymentsCommand::Status(args)) => deploy::status(args),
        Command::Deployments(DeploymentsCommand::Stop(args)) => deploy::stop(args),
        Command::Deployments(DeploymentsCommand::Supervise(args)) => deploy::supervise(args),
        Command::Auth(args) => client::auth::run(args),
        Command::Create(CreateCommand::Project(args)) => client::project::create(args),
        Command::Create(CreateCommand::Service(args)) => client::project::create_service(args),
        Command::Create(CreateCommand::Secret(args)) => client::settings::create_secret(args),
        Command::Create(CreateCommand::Notification(args)) => client::notify::create(args),
        Command::Create(CreateCommand::NotificationChannel(args)) => {
            client::notify::create_channel(args)
        }
        Command::Delete(DeleteCommand::Notification(args)) => client::notify::delete(args),
        Command::Delete(DeleteCommand::NotificationChannel(args)) => {
            client::notify::delete_channel(args)
        }
        Command::Delete(DeleteCommand::Secret(args)) => client::settings::delete_secret(args),
        Command::Configure(ConfigureCommand::Monitoring(args)) => {
            client::settings::configure_monitoring(args)
        }
        Command::Update(UpdateCommand::Project(args)) => client::project::update(args),
        Command::Delete(DeleteCommand::Project(args)) => client::project::delete(args),
        Command::Delete(DeleteCommand::Service(args)) => client::project::delete_service(args),
        Command::Import(ImportCommand::Keptn(args)) => import::keptn(args),
        Command::Import(ImportCommand::KeptnHistory(args)) => import::history::keptn_history(args),
        Command::Cluster(ClusterCommand::Status(args)) => client::cluster::status(args),
        Command::AddResource(args) => client::resource::run(args),
        Command::Trigger(TriggerCommand::Delivery(args)) => client::trigger::delivery(args),
        Command::Trigger(TriggerCommand::Evaluation(args)) => client::trigger::evaluation(args),
        Command::Trigger(TriggerCommand::Sequence(args)) => client::trigger::sequence(args),
        Command::Send(SendCommand::Event(args)) => client::approval::send(args),
        Command::Approve(args) => client::approval::run(args, Decision::Approve),
        Command::Decline(args) => client::approval::run(args, Decision::Decline),
        Command::Token(TokenCommand::Create(args)) => client::access::create_token(args),
        Command::Token(TokenCommand::List(args)) => client::access::list_tokens(args),
        Command::Token(TokenCommand::Revoke(args)) => client::access::revoke_token(args),
        Command::Audit(args) => client::access::audit(args),
        Command::Baseline(BaselineCommand::Set(args)) => client::baseline::set(args),
        Command::Baseline(BaselineCommand::Get(args)) => client::baseline::get(args),
        Command::Baseline(BaselineCommand::Clear(args)) => client::baseline::clear(args),
        Command::Whoami(args) => client::access::whoami(args),
        Command::Get(GetCommand::Projects(args)) => client::get::projects(args),
        Command::Get(GetCommand::Stages(args)) => client::get::stages(args),
        Command::Get(GetCommand::Services(args)) => client::get::services(args),
        Command::Get(GetCommand::Sequences(args)) => client::get::sequences(args),
        Command::Get(GetCommand::Events(args)) => client::get::events(args),
        Command::Get(GetCommand::Notifications(args)) => client::notify::list_notifications(args),
        Command::Get(GetCommand::NotificationDeliveries(args)) => client::notify::deliveries(args),
        Command::Abort(SequenceControlCommand::Sequence(args)) => {
            client::control::run(args, ControlAction::Abort)
        }
        Command::Pause(SequenceControlCommand::Sequence(args)) => {
            client::control::run(args, ControlAction::Pause)
        }
        Command::Resume(SequenceControlCommand::Sequence(args)) => {
            client::control::run(args, ControlAction::Resume)
        }
    };
    match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {}", message(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: a cause whose text its error already shows
/// (errors that print their source inside their own message) is not repeated.
fn message(err: &anyhow::Error) -> String {
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_are_said_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot open the database: {0}")]
        struct Outer(#[source] std::io::Error);
        let inner = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(Outer(inner)).context("cannot start");
        assert_eq!(
            super::message(&err),
            "cannot start: cannot open the database: disk on fire"
        );
        let plain = anyhow::anyhow!("no cause");
        assert_eq!(super::message(&plain), "no cause");
    }
}
