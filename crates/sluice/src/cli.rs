//! The command line: every subcommand and flag, as clap definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// sluice: continuous delivery with SLO quality gates, compatible with Keptn v1.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure sluice's performance on this machine: every figure beside a reference measured
    /// in the same run, one line each, and a JSON file.
    ///
    /// Uses a throw-away data directory. Exit code 0 even when figures are short (it is a
    /// measurement); 1 when a benchmark could not run.
    Bench(BenchArgs),
    /// Run Keptn's "full tour" tutorial end to end on this machine: an embedded server, local
    /// deployments of helloservice, load tests and quality gates, in a few minutes.
    ///
    /// Exit code 0 only when every outcome of the tutorial happened.
    Quickstart(QuickstartArgs),
    /// Score SLI values against an SLO offline, exactly like Keptn's quality gate.
    ///
    /// Exit code: 0 for pass and warning, 1 for fail (and for warning with
    /// --fail-on-warning), 2 for unusable input.
    Evaluate(EvaluateArgs),
    /// Run the control plane: Keptn-compatible API, event store and sequence engine.
    ///
    /// All state lives in the data directory. The API token is created on first start,
    /// stored there with mode 0600 and printed once (or given with SLUICE_API_TOKEN).
    Server(ServerArgs),
    /// Show the output of job-executor runs of a context (and the files they kept).
    Logs(LogsArgs),
    /// Generate HTTP load against a URL and report latency percentiles.
    ///
    /// Writes a JSON summary (--out) that sluice's built-in `loadtest` SLI provider reads.
    /// Exit code: 0, or 1 when the share of failed requests is above --max-failure-rate,
    /// 2 for unusable input.
    Load(LoadArgs),
    /// Deploy an image of a service to a stage on this machine (like `helm upgrade --install --wait`).
    ///
    /// Starts the new version's instances on the stage's stable address, waits until they are
    /// healthy, then stops the old ones. If the new version does not become ready, it is stopped,
    /// the old one keeps serving and the exit code is 1. Starts the supervisor when needed.
    Deploy(DeployArgs),
    /// Redeploy an earlier revision of a local deployment (like `helm rollback --wait`).
    Rollback(RollbackArgs),
    /// Set the number of instances of a local deployment (like `helm upgrade --set replicaCount=N`).
    Scale(ScaleArgs),
    /// Show, stop or supervise the local deployments.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Run the tutorial's example service (what the local deployment starts).
    #[command(hide = true, disable_version_flag = true)]
    Helloservice(HelloserviceArgs),
    /// Run one job-executor task for the server (the launch comes on stdin); the task
    /// outlives a crash of the server, which adopts it after a restart.
    #[command(name = "job-supervise", hide = true, disable_version_flag = true)]
    JobSupervise,
    /// Validate Keptn files (shipyard, SLO, SLI, job-executor config, remediation).
    ///
    /// The kind of each file is told from its content. Directories are searched for
    /// *.yaml and *.yml files. Exit code: 0 when there are no errors (and, with --strict,
    /// no warnings), 1 otherwise, 2 when a file cannot be read.
    Lint(LintArgs),
    /// Check an endpoint and API token and store them for the other client commands.
    ///
    /// The credentials are written to $SLUICE_CONFIG, $XDG_CONFIG_HOME/sluice/config.json or
    /// ~/.config/sluice/config.json with mode 0600. SLUICE_ENDPOINT and SLUICE_API_TOKEN
    /// override the stored values.
    Auth(AuthArgs),
    /// Create a project, a service or a secret.
    #[command(subcommand)]
    Create(CreateCommand),
    /// Update a project (its shipyard or git upstream).
    #[command(subcommand)]
    Update(UpdateCommand),
    /// Delete a project, a service or a secret.
    #[command(subcommand)]
    Delete(DeleteCommand),
    /// Configure a project (monitoring).
    #[command(subcommand)]
    Configure(ConfigureCommand),
    /// Move projects from another control plane into the server (Keptn v1).
    #[command(subcommand)]
    Import(ImportCommand),
    /// The replicas of a PostgreSQL-backed cluster.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Add a file to the configuration of a project, stage or service.
    #[command(name = "add-resource")]
    AddResource(AddResourceArgs),
    /// Start a delivery, an evaluation or any sequence.
    #[command(subcommand)]
    Trigger(TriggerCommand),
    /// Send an event.
    #[command(subcommand)]
    Send(SendCommand),
    /// Approve an open approval task (sends approval.finished with result pass).
    Approve(ApprovalArgs),
    /// Decline an open approval task (sends approval.finished with result fail).
    Decline(ApprovalArgs),
    /// Show projects, stages, services, sequences or events.
    #[command(subcommand)]
    Get(GetCommand),
    /// Abort a running sequence.
    #[command(subcommand)]
    Abort(SequenceControlCommand),
    /// Pause a running sequence.
    #[command(subcommand)]
    Pause(SequenceControlCommand),
    /// Resume a paused sequence.
    #[command(subcommand)]
    Resume(SequenceControlCommand),
    /// Create, list and revoke scoped API tokens (a role, a project, stages, an expiry).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Show the audit log: who changed what, where, when and from which address.
    Audit(AuditArgs),
    /// Pin, show or clear the baseline evaluation of a stage and service (what SLOs with
    /// `comparison.compare_with: baseline` compare with).
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Show the role and scope of the token in use.
    Whoami(WhoamiArgs),
}

/// `sluice token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (the server keeps only a hash).
    Create(TokenCreateArgs),
    /// List tokens (never their text).
    List(TokenListArgs),
    /// Revoke a token: it is refused from now on.
    Revoke(TokenRevokeArgs),
}

/// `sluice baseline ...`
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Pin an evaluation (an evaluation.finished event) as the baseline of its stage and
    /// service; the project, stage and service are the evaluation's unless given.
    Set(BaselineSetArgs),
    /// Show the pinned baseline of a stage and service.
    Get(BaselineScopeArgs),
    /// Unpin the baseline of a stage and service.
    Clear(BaselineScopeArgs),
}

/// Flags of `sluice baseline set`.
#[derive(Debug, Args)]
pub struct BaselineSetArgs {
    /// The id of the evaluation.finished event to pin.
    #[arg(long)]
    pub evaluation: String,
    /// The project (checked against the evaluation's).
    #[arg(long)]
    pub project: Option<String>,
    /// The stage (checked against the evaluation's).
    #[arg(long)]
    pub stage: Option<String>,
    /// The service (checked against the evaluation's).
    #[arg(long)]
    pub service: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice baseline get|clear`.
#[derive(Debug, Args)]
pub struct BaselineScopeArgs {
    /// The project.
    #[arg(long)]
    pub project: String,
    /// The stage.
    #[arg(long)]
    pub stage: String,
    /// The service.
    #[arg(long)]
    pub service: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// A unique name, recorded as the actor in the audit log.
    #[arg(long)]
    pub name: String,
    /// viewer, approver, operator, integration, admin (of the project) or instance-admin.
    #[arg(long)]
    pub role: String,
    /// Limit the token to this project (default: every project).
    #[arg(long)]
    pub project: Option<String>,
    /// Limit the token's changes to this stage (repeatable; default: every stage).
    #[arg(long = "stage")]
    pub stages: Vec<String>,
    /// How long the token lives, e.g. 30d, 12h, 90m (at most 366d).
    #[arg(long)]
    pub expires: String,
}

/// Flags of `sluice token list`.
#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// Only the tokens of this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice token revoke`.
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id (the ID column of `sluice token list`).
    pub id: String,
}

/// Flags of `sluice audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only this actor (a token name).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (trigger, approve, decline, pause, resource.update, token.create, ...).
    #[arg(long)]
    pub action: Option<String>,
    /// How many entries (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice whoami`.
#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Output formats of the client commands that print a list or an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    Table,
    /// Pretty-printed JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Flags of `sluice auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The server's URL, e.g. http://127.0.0.1:8090 (a trailing /api is accepted).
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// The API token the server printed on its first start.
    #[arg(long = "api-token", value_name = "TOKEN")]
    pub api_token: String,
}

/// `sluice create ...`
#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Create a project from a shipyard file (checked locally before it is sent).
    Project(CreateProjectArgs),
    /// Create a service in every stage of a project.
    Service(ServiceArgs),
    /// Create (or replace) a secret for job-executor tasks (`valueFrom: secret`).
    Secret(CreateSecretArgs),
    /// Create a notification rule (which events of a project go where), with its channel or
    /// to an existing one.
    Notification(CreateNotificationArgs),
    /// Create a notification channel that several rules may share.
    NotificationChannel(CreateChannelArgs),
}

/// Where a new notification channel sends: its URL, template and signing secret.
#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// The URL (visible in the process list and shell history: prefer --url-file for Slack
    /// and Teams, whose URL is the credential).
    #[arg(long, conflicts_with = "url_file")]
    pub url: Option<String>,
    /// A file holding the URL.
    #[arg(long, value_name = "FILE")]
    pub url_file: Option<std::path::PathBuf>,
    /// A file holding the message template (Go template placeholders over the notification,
    /// e.g. `{{.project}}`, `{{.data.message}}`; the whole body for a webhook, the text for
    /// Slack and Teams).
    #[arg(long, value_name = "FILE")]
    pub template_file: Option<std::path::PathBuf>,
    /// A file holding the webhook's signing secret (`whsec_<base64>`); without it the server
    /// makes one and it is printed once.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<std::path::PathBuf>,
}

/// Flags of `sluice create notification`.
#[derive(Debug, Args)]
pub struct CreateNotificationArgs {
    /// The project.
    #[arg(long)]
    pub project: String,
    /// The rule's name, unique in the project (also the name of the channel it creates).
    #[arg(long)]
    pub name: String,
    /// A new channel of this kind: webhook (a JSON POST signed per Standard Webhooks), slack
    /// or teams (incoming webhooks); give its URL with --url or --url-file.
    #[arg(long, value_name = "KIND", required_unless_present = "use_channel")]
    pub channel: Option<String>,
    /// Send to this existing channel of the project instead (see `sluice create
    /// notification-channel`).
    #[arg(long, value_name = "CHANNEL", conflicts_with_all = ["channel", "url", "url_file", "template_file", "secret_file"])]
    pub use_channel: Option<String>,
    /// The new channel.
    #[command(flatten)]
    pub target: ChannelArgs,
    /// Events, comma-separated: sequence.finished, sequence.failed, approval.waiting,
    /// evaluation.failed, remediation.started.
    #[arg(long, value_delimiter = ',', required = true)]
    pub events: Vec<String>,
    /// Only this stage (repeatable; default: every stage).
    #[arg(long = "stage")]
    pub stages: Vec<String>,
    /// Only this service (repeatable; default: every service).
    #[arg(long = "service")]
    pub services: Vec<String>,
}

/// Flags of `sluice create notification-channel`.
#[derive(Debug, Args)]
pub struct CreateChannelArgs {
    /// The project.
    #[arg(long)]
    pub project: String,
    /// A name, unique in the project.
    #[arg(long)]
    pub name: String,
    /// webhook (a JSON POST signed per Standard Webhooks), slack or teams (incoming webhooks).
    #[arg(long)]
    pub kind: String,
    /// Where it sends.
    #[command(flatten)]
    pub target: ChannelArgs,
}

/// Flags of `sluice delete notification-channel`.
#[derive(Debug, Args)]
pub struct DeleteChannelArgs {
    /// The channel's name.
    pub name: String,
    /// The project.
    #[arg(long)]
    pub project: String,
}

/// Flags of `sluice delete notification`.
#[derive(Debug, Args)]
pub struct DeleteNotificationArgs {
    /// The rule's name.
    pub name: String,
    /// The project.
    #[arg(long)]
    pub project: String,
    /// Keep the rule's channel even when no other rule uses it.
    #[arg(long)]
    pub keep_channel: bool,
}

/// Flags of `sluice create secret` (Keptn's).
#[derive(Debug, Args)]
pub struct CreateSecretArgs {
    /// The secret's name.
    pub name: String,
    /// A key and its value, `KEY=VALUE`; repeat for several keys.
    #[arg(long = "from-literal", value_name = "KEY=VALUE", required = true)]
    pub from_literal: Vec<String>,
    /// Keptn's scope: one of Keptn's (dynatrace-service, keptn-default, keptn-prometheus-service,
    /// keptn-webhook-service); checked, not kept, as sluice has one scope.
    #[arg(long, default_value = "keptn-default")]
    pub scope: String,
}

/// `sluice update ...`
#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
    /// Update a project's shipyard or git upstream.
    Project(UpdateProjectArgs),
}

/// `sluice delete ...`
#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Delete a project (the upstream repository is kept).
    Project(ProjectNameArgs),
    /// Delete a service from every stage of a project.
    Service(ServiceArgs),
    /// Delete a secret.
    Secret(SecretNameArgs),
    /// Delete a notification rule with its delivery log (and its channel when no other rule
    /// uses it).
    Notification(DeleteNotificationArgs),
    /// Delete a notification channel no rule uses.
    NotificationChannel(DeleteChannelArgs),
}

/// A secret's name.
#[derive(Debug, Args)]
pub struct SecretNameArgs {
    /// The secret's name.
    pub name: String,
}

/// `sluice configure ...`
#[derive(Debug, Subcommand)]
pub enum ConfigureCommand {
    /// Set a project's SLI provider (Keptn's `configure monitoring`).
    Monitoring(ConfigureMonitoringArgs),
}

/// Flags of `sluice configure monitoring`.
#[derive(Debug, Args)]
pub struct ConfigureMonitoringArgs {
    /// The provider: `prometheus`, `loadtest` (SLIs from load tests, no monitoring system), or
    /// the name of an external Keptn SLI provider that answers get-sli events.
    pub provider: String,
    /// The project.
    #[arg(long)]
    pub project: String,
    /// Keptn's flag; the provider is set for the whole project.
    #[arg(long)]
    pub service: Option<String>,
    /// Prometheus' URL (e.g. http://127.0.0.1:9090).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Basic-auth user for Prometheus.
    #[arg(long)]
    pub user: Option<String>,
    /// Basic-auth password for Prometheus (stored as a secret, never shown).
    #[arg(long, requires = "user")]
    pub password: Option<String>,
    /// Also write Prometheus alerting rules derived from the service's SLO pass criteria to
    /// this file (load it into Prometheus; Alertmanager then calls /api/sluice/v1/alerts).
    #[arg(long, value_name = "FILE", requires = "service")]
    pub alerting_rules: Option<PathBuf>,
}

/// Git upstream flags of project create and update (Keptn's names).
#[derive(Debug, Default, Args)]
pub struct GitArgs {
    /// URL of the git repository that holds the project's configuration.
    #[arg(long = "git-remote-url", value_name = "URL")]
    pub git_remote_url: Option<String>,
    /// User name for the git repository.
    #[arg(long = "git-user", value_name = "USER")]
    pub git_user: Option<String>,
    /// Access token for the git repository (visible to other users of this machine in the
    /// process list: prefer --git-token-file).
    #[arg(
        long = "git-token",
        value_name = "TOKEN",
        conflicts_with = "git_token_file"
    )]
    pub git_token: Option<String>,
    /// File holding the HTTPS access token for the git repository.
    #[arg(long = "git-token-file", value_name = "FILE")]
    pub git_token_file: Option<PathBuf>,
    /// File holding the SSH private key (not encrypted) for an ssh:// repository.
    #[arg(
        long = "git-private-key-file",
        value_name = "FILE",
        conflicts_with_all = ["git_token", "git_token_file"]
    )]
    pub git_private_key_file: Option<PathBuf>,
}

/// Flags of `sluice create project`.
#[derive(Debug, Args)]
pub struct CreateProjectArgs {
    /// Project name.
    pub name: String,
    /// The shipyard file.
    #[arg(short = 's', long, value_name = "FILE")]
    pub shipyard: PathBuf,
    /// Git upstream.
    #[command(flatten)]
    pub git: GitArgs,
}

/// Flags of `sluice update project`.
#[derive(Debug, Args)]
pub struct UpdateProjectArgs {
    /// Project name.
    pub name: String,
    /// A new shipyard file (its stages must be the same as before).
    #[arg(short = 's', long, value_name = "FILE")]
    pub shipyard: Option<PathBuf>,
    /// Git upstream.
    #[command(flatten)]
    pub git: GitArgs,
}

/// A project name.
#[derive(Debug, Args)]
pub struct ProjectNameArgs {
    /// Project name.
    pub name: String,
}

/// Flags of `sluice create service` and `sluice delete service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Service name.
    pub name: String,
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
}

/// Flags of `sluice add-resource`.
#[derive(Debug, Args)]
pub struct AddResourceArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The stage (without it, the file is added at project level).
    #[arg(long, value_name = "STAGE", conflicts_with = "all_stages")]
    pub stage: Option<String>,
    /// The service (needs --stage or --all-stages).
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// The local file to upload.
    #[arg(long, value_name = "FILE")]
    pub resource: PathBuf,
    /// Where to store it (default: the file path as given, with forward slashes).
    #[arg(long = "resourceUri", value_name = "URI")]
    pub resource_uri: Option<String>,
    /// Add the file to every stage of the project.
    #[arg(long = "all-stages")]
    pub all_stages: bool,
}

/// `sluice cluster ...`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The replicas, the leader, its term (epoch) and how far each replica is behind: asked
    /// of the server the CLI is logged in to (any replica).
    Status(ClusterStatusArgs),
}

/// Flags of `sluice cluster status`.
#[derive(Debug, Args)]
pub struct ClusterStatusArgs {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `sluice import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Create a project from a Keptn project's git upstream: its shipyard, stages, services
    /// and every file, unchanged, through the server's API.
    ///
    /// Reads both of Keptn's layouts: one branch per stage (services as folders of each stage
    /// branch, project files on the default branch) and the directory layout (`.keptn-stages/`).
    /// Each file is checked by the server as any upload is; a refused file is reported and the
    /// others are still imported. Keptn's own `metadata.yaml` files are skipped. Running it
    /// again changes nothing: an existing project with the same shipyard, existing services
    /// and files with the same content are kept; a file whose content differs is updated.
    ///
    /// The repository is read over https:// or SSH (with Debian's `git`), http://, git://,
    /// file:// or from a local path. Exit code: 0 when
    /// everything was imported (or is already there), 1 when some files or services were
    /// refused, 2 when the repository cannot be read or the project cannot be created.
    Keptn(ImportKeptnArgs),
    /// Copy projects' past events from Keptn's datastore into sluice, with their original ids,
    /// contexts and times: sequences, tasks, deployments, approvals, evaluations and
    /// invalidations, so the heatmap and the sequence list show the past and the next quality
    /// gate compares with the last Keptn evaluations.
    ///
    /// Reads `GET /api/mongodb-datastore/event?project=…` page by page with the Keptn API token
    /// and sends the events to the logged-in sluice server. Each project must exist in sluice
    /// already (`sluice import keptn`). Events sluice has (by id) are skipped, so running it
    /// again stores nothing, and an interrupted import, run again, stores what is missing. The
    /// imported events are history: no task in them is run and no sequence is resumed. Exit
    /// code: 0 when everything was imported, 1 when a project is missing in sluice or an event
    /// was refused, 2 when Keptn or sluice cannot be reached.
    #[command(name = "keptn-history")]
    KeptnHistory(ImportHistoryArgs),
}

/// Flags of `sluice import keptn-history`.
#[derive(Debug, Args)]
pub struct ImportHistoryArgs {
    /// The Keptn API endpoint, e.g. http://keptn.example.com/api (as given to `keptn auth`).
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// A file holding Keptn's API token (the `keptn-api-token` secret; never printed).
    #[arg(long = "api-token-file", value_name = "FILE")]
    pub api_token_file: PathBuf,
    /// The projects to import (repeatable; default: every project of the Keptn instance).
    #[arg(long, value_name = "PROJECT")]
    pub project: Vec<String>,
    /// Count the events per project and type, and send nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

/// Flags of `sluice import keptn`.
#[derive(Debug, Args)]
pub struct ImportKeptnArgs {
    /// The Keptn project's git upstream: https://, ssh://, http://, git://, file:// or a local
    /// path (a bare or `git clone --mirror` repository, or a checkout whose branches are local).
    #[arg(long = "git-url", value_name = "URL")]
    pub git_url: String,
    /// User name for the repository.
    #[arg(long = "git-user", value_name = "USER", requires = "git_token_file")]
    pub git_user: Option<String>,
    /// A file holding the access token for the repository (never printed).
    #[arg(long = "git-token-file", value_name = "FILE")]
    pub git_token_file: Option<PathBuf>,
    /// The project's name in sluice (default: the name in Keptn's `metadata.yaml`).
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Print the plan (create, update or keep, per item) and change nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Give up reading the repository after this long (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = positive_duration)]
    pub git_timeout: std::time::Duration,
}

/// `-l/--labels` and `-o/--output`, `-w/--watch` shared by the trigger commands.
#[derive(Debug, Args)]
pub struct TriggerCommon {
    /// Labels for the sequence: key=value pairs, comma separated or repeated.
    #[arg(short = 'l', long = "labels", value_name = "KEY=VALUE,...")]
    pub labels: Vec<String>,
    /// Follow the sequence live until it ends; the exit code is 1 when it failed.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Stop watching after this many seconds (default: until the sequence ends).
    #[arg(long = "watch-time", value_name = "SECONDS", requires = "watch")]
    pub watch_time: Option<u64>,
    /// Output format of the answer (and of watched events).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `sluice trigger ...`
#[derive(Debug, Subcommand)]
pub enum TriggerCommand {
    /// Deliver a new artifact (container image) of a service, as `keptn trigger delivery`.
    Delivery(TriggerDeliveryArgs),
    /// Evaluate the SLOs of a service in a stage for a time window.
    Evaluation(TriggerEvaluationArgs),
    /// Start any sequence of the shipyard in a stage.
    Sequence(TriggerSequenceArgs),
}

/// Flags of `sluice trigger delivery`.
#[derive(Debug, Args)]
pub struct TriggerDeliveryArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The service.
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// The image, e.g. docker.io/keptnexamples/carts:0.13.1 (tag defaults to latest).
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// The tag, when it is not part of --image.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The stage to start in (default: the first stage of the shipyard).
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// The sequence to trigger.
    #[arg(long, value_name = "NAME", default_value = "delivery")]
    pub sequence: String,
    /// Extra configuration values: key=value, dotted keys make nested objects.
    #[arg(long = "values", value_name = "KEY=VALUE")]
    pub values: Vec<String>,
    /// Labels, watch and output.
    #[command(flatten)]
    pub common: TriggerCommon,
}

/// Flags of `sluice trigger evaluation`.
#[derive(Debug, Args)]
pub struct TriggerEvaluationArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: String,
    /// The service.
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Length of the window ending now (or starting at --start), e.g. 5m or 1h30m.
    #[arg(long, value_name = "DURATION", conflicts_with = "end")]
    pub timeframe: Option<String>,
    /// Start of the window (UTC, e.g. 2024-01-02T15:04:05).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End of the window (needs --start).
    #[arg(long, value_name = "TIME", requires = "start")]
    pub end: Option<String>,
    /// The configuration commit to evaluate with.
    #[arg(long = "git-commit-id", value_name = "SHA")]
    pub git_commit_id: Option<String>,
    /// Labels, watch and output.
    #[command(flatten)]
    pub common: TriggerCommon,
}

/// Flags of `sluice trigger sequence`.
#[derive(Debug, Args)]
pub struct TriggerSequenceArgs {
    /// The sequence name from the shipyard.
    pub name: String,
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: String,
    /// The service.
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Labels, watch and output.
    #[command(flatten)]
    pub common: TriggerCommon,
}

/// `sluice send ...`
#[derive(Debug, Subcommand)]
pub enum SendCommand {
    /// Send an event from a JSON file, or `approval.finished` for an open approval.
    Event(SendEventArgs),
}

/// Flags of `sluice send event`.
#[derive(Debug, Args)]
pub struct SendEventArgs {
    /// `approval.finished` to answer an open approval (Keptn's form); omit with --file.
    #[arg(value_name = "KIND", value_parser = ["approval.finished"])]
    pub kind: Option<String>,
    /// The event as a JSON file (a Keptn CloudEvent).
    #[arg(short = 'f', long, value_name = "FILE", conflicts_with = "kind")]
    pub file: Option<PathBuf>,
    /// Which approval (with approval.finished).
    #[command(flatten)]
    pub approval: ApprovalSelection,
}

/// Which open approval to answer.
#[derive(Debug, Args)]
pub struct ApprovalSelection {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// The stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Which of the stage's approvals, and the answer's labels.
    #[command(flatten)]
    pub pick: ApprovalPick,
}

/// The flags that pick one approval of a stage and label the answer (shared by `approve`,
/// `decline` and `send event approval.finished`).
#[derive(Debug, Args)]
pub struct ApprovalPick {
    /// The service.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// The id of the approval.triggered event.
    #[arg(long, value_name = "ID", conflicts_with = "keptn_context")]
    pub id: Option<String>,
    /// The Keptn context of the sequence waiting for approval.
    #[arg(long = "keptn-context", value_name = "CONTEXT")]
    pub keptn_context: Option<String>,
    /// Extra labels for the approval.finished event.
    #[arg(short = 'l', long = "labels", value_name = "KEY=VALUE,...")]
    pub labels: Vec<String>,
}

/// Flags of `sluice approve` and `sluice decline`.
#[derive(Debug, Args)]
pub struct ApprovalArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: String,
    /// Which of the stage's approvals, and the answer's labels.
    #[command(flatten)]
    pub pick: ApprovalPick,
}

/// `sluice get ...`
#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// List projects, or show one.
    #[command(alias = "project")]
    Projects(GetProjectsArgs),
    /// List the stages of a project.
    #[command(alias = "stage")]
    Stages(GetStagesArgs),
    /// List services with the image deployed in each stage.
    #[command(alias = "service")]
    Services(GetServicesArgs),
    /// List sequences and their state per stage.
    #[command(alias = "sequence")]
    Sequences(GetSequencesArgs),
    /// List events from the event store, newest first.
    #[command(alias = "event")]
    Events(GetEventsArgs),
    /// List notification rules, or their channels (--channels) or delivery log (--deliveries).
    #[command(alias = "notification")]
    Notifications(GetNotificationsArgs),
    /// Show the delivery log of a project's notifications, newest first.
    #[command(alias = "notification-delivery")]
    NotificationDeliveries(GetDeliveriesArgs),
}

/// Flags of `sluice get notifications`.
#[derive(Debug, Args)]
pub struct GetNotificationsArgs {
    /// Only this project (default: every project).
    #[arg(long, value_name = "PROJECT")]
    pub project: Option<String>,
    /// Show the delivery log instead (needs --project).
    #[arg(long, requires = "project", conflicts_with = "channels")]
    pub deliveries: bool,
    /// Show the channels instead.
    #[arg(long)]
    pub channels: bool,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice get notification-deliveries`.
#[derive(Debug, Args)]
pub struct GetDeliveriesArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// Only this rule.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only this state: pending, delivered or failed.
    #[arg(long)]
    pub state: Option<String>,
    /// How many deliveries (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice get projects`.
#[derive(Debug, Args)]
pub struct GetProjectsArgs {
    /// Show only this project.
    pub name: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice get stages`.
#[derive(Debug, Args)]
pub struct GetStagesArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice get services`.
#[derive(Debug, Args)]
pub struct GetServicesArgs {
    /// Show only this service.
    pub name: Option<String>,
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// Show only this stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice get sequences`.
#[derive(Debug, Args)]
pub struct GetSequencesArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// Show only sequences that ran in this stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Show only sequences of this service.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Show only sequences in this state (triggered, started, waiting, paused, finished,
    /// aborted, timedOut).
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    /// Show only sequences with this name.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Show only this context.
    #[arg(long = "keptn-context", value_name = "CONTEXT")]
    pub keptn_context: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice get events`.
#[derive(Debug, Args)]
pub struct GetEventsArgs {
    /// Event type: a full type (sh.keptn.event.deployment.finished) or the part after
    /// sh.keptn.event. (deployment.finished).
    #[arg(value_name = "TYPE")]
    pub event_type: Option<String>,
    /// The project (needed unless --keptn-context is given).
    #[arg(
        long,
        value_name = "PROJECT",
        required_unless_present = "keptn_context"
    )]
    pub project: Option<String>,
    /// Only events of this stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Only events of this service.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Only events of this context.
    #[arg(long = "keptn-context", value_name = "CONTEXT")]
    pub keptn_context: Option<String>,
    /// Events per page.
    #[arg(long = "page-size", value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub page_size: u32,
    /// How many pages to fetch.
    #[arg(long = "num-of-pages", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub num_of_pages: u32,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// `sluice abort|pause|resume sequence`
#[derive(Debug, Subcommand)]
pub enum SequenceControlCommand {
    /// The sequence of a Keptn context.
    Sequence(SequenceControlArgs),
}

/// Flags of `sluice abort|pause|resume sequence`.
#[derive(Debug, Args)]
pub struct SequenceControlArgs {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The Keptn context of the sequence.
    #[arg(short = 'c', long = "keptn-context", value_name = "CONTEXT")]
    pub keptn_context: String,
    /// Only in this stage (default: every stage).
    #[arg(short = 's', long, value_name = "STAGE")]
    pub stage: Option<String>,
}

/// Output formats of `evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvaluateFormat {
    /// A table that explains the verdict.
    Text,
    /// Keptn's `evaluation.finished` event data.
    Json,
}

/// Flags of `sluice evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The SLO file (slo.yaml). Without it, nothing is evaluated and the result is pass,
    /// as in Keptn.
    #[arg(long, value_name = "FILE")]
    pub slo: Option<PathBuf>,
    /// The SLI values: a JSON array of {"metric", "value", "success", "message"}
    /// (Keptn's get-sli indicatorValues), or a get-sli.finished event or its data.
    #[arg(long, value_name = "FILE")]
    pub sli: Option<PathBuf>,
    /// Earlier evaluations to compare with: a JSON array of evaluation.finished event data
    /// objects (or whole events), newest first.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    /// Samples of this evaluation for statistical criteria (sluice extension): a JSON
    /// object from SLI name to an array of numbers (default: the `samples` of the SLI values).
    #[arg(long, value_name = "FILE")]
    pub samples: Option<PathBuf>,
    /// Samples of the baseline the statistical criteria compare with, same format (default:
    /// the samples kept in the first --previous evaluation's results).
    #[arg(long, value_name = "FILE")]
    pub baseline_samples: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = EvaluateFormat::Text)]
    pub output: EvaluateFormat,
    /// Exit with 1 when the result is a warning.
    #[arg(long)]
    pub fail_on_warning: bool,
    /// Start of the evaluated time window, copied into the result (Keptn time format).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End of the evaluated time window, copied into the result.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// When to use colours in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Where the quickstart's SLIs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuickstartMonitoring {
    /// sluice's built-in provider: SLIs from the load tests' own results.
    Loadtest,
    /// A real Prometheus (give --prometheus-url), with the tutorial's SLO and PromQL queries.
    Prometheus,
}

/// Which part of the tutorial the quickstart plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuickstartScenario {
    /// The full tour: the good build everywhere, the slow build stopped in qa.
    Tour,
    /// Manual approval in production: approve one delivery, decline the next.
    Approval,
    /// Failed gates roll back: a stricter production gate, then the slow build in qa.
    Rollback,
    /// A problem in production opens a remediation: get-action, scale, load test, evaluation.
    SelfHealing,
    /// A pinned baseline and a statistical criterion: a build whose regression is a slow tail
    /// on a few percent of requests fails against the baseline while Keptn's criteria pass.
    CanaryStatistics,
}

/// What generates the quickstart's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuickstartLoad {
    /// `sluice load`.
    Sluice,
    /// Locust (must be on PATH), with the tutorial's basic.py.
    Locust,
}

/// Flags of `sluice quickstart`.
#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Keep the tour's data here (must be new or empty), to explore it afterwards with
    /// `sluice server --data-dir DIR`. Default: a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Use the tutorial's timing (2-minute load tests and evaluation timeframes) instead of
    /// 15-second load tests evaluated over their own window.
    #[arg(long)]
    pub tutorial_timing: bool,
    /// Where SLIs come from.
    #[arg(long, value_enum, default_value_t = QuickstartMonitoring::Loadtest)]
    pub monitoring: QuickstartMonitoring,
    /// Prometheus' address (with --monitoring prometheus).
    #[arg(long, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// What generates load.
    #[arg(long, value_enum, default_value_t = QuickstartLoad::Sluice)]
    pub load: QuickstartLoad,
    /// Which part of the tutorial to play.
    #[arg(long, value_enum, default_value_t = QuickstartScenario::Tour)]
    pub scenario: QuickstartScenario,
    /// Address of the embedded server (default: a free loopback port). Give one so that an
    /// Alertmanager can call its webhook; the token is SLUICE_API_TOKEN if set.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// With `--scenario self-healing --monitoring prometheus`: write alerting rules from the
    /// SLO to this file (one that Prometheus loads with rule_files), reload Prometheus, and let
    /// a real alert (through Alertmanager to /api/sluice/v1/alerts) open the remediation
    /// instead of Keptn's fake problem event.
    #[arg(long, value_name = "FILE")]
    pub alerting_rules: Option<PathBuf>,
    /// Create the project (shipyard, service, files, monitoring) and stop before the
    /// deliveries; the data directory keeps it (tests compare imports with it).
    #[arg(long, hide = true)]
    pub setup_only: bool,
}

/// Flags of `sluice logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The context (shown by `trigger` and `get sequences`).
    #[arg(long = "keptn-context", short = 'c', value_name = "CONTEXT")]
    pub keptn_context: String,
    /// Only runs of this task (e.g. je-test).
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    /// Output format (`json` prints the runs as the API returns them).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = EvaluateFormat::Text)]
    pub output: EvaluateFormat,
}

/// Flags of `sluice load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL (http only), e.g. http://127.0.0.1:9000.
    #[arg(long, value_name = "URL", required_unless_present = "from_locust")]
    pub url: Option<String>,
    /// Paths to request in turn (default: the URL's own path).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// Concurrent users (connections).
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// How long to run (Go duration: 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub duration: String,
    /// Stop after this many requests instead.
    #[arg(long, value_name = "N")]
    pub requests: Option<u64>,
    /// At most this many requests per second in total.
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Timeout of one request (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub timeout: String,
    /// Fail (exit 1) when more than this share of requests failed (0..1).
    #[arg(long, value_name = "RATIO", default_value_t = 0.05)]
    pub max_failure_rate: f64,
    /// Write the JSON summary to this file (for example /keptn/out/load-summary.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Instead of generating load, convert Locust's --csv output (`<PREFIX>_stats.csv`, ...)
    /// into the same summary.
    #[arg(long, value_name = "PREFIX", conflicts_with = "url")]
    pub from_locust: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = EvaluateFormat::Text)]
    pub output: EvaluateFormat,
}

/// Flags of `sluice helloservice`.
#[derive(Debug, Args)]
pub struct HelloserviceArgs {
    /// The version to behave as (`v0.1.1`, or an image reference such as
    /// `ghcr.io/podtato-head/podtatoserver:v0.1.2`); v0.1.2 answers 400 ms slower.
    #[arg(long, value_name = "VERSION")]
    pub version: String,
    /// Address to serve on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub listen: std::net::SocketAddr,
    /// Share the address with other instances (SO_REUSEPORT): the local form of replicas.
    #[arg(long)]
    pub reuse_port: bool,
    /// A separate address serving only /metrics (so each replica can be scraped).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Instance name shown on the page (default: pid-<pid>).
    #[arg(long, value_name = "NAME", default_value = "")]
    pub instance: String,
}

/// The deployments directory, shared by the deployment commands.
#[derive(Debug, Args)]
pub struct DeploymentsDirArg {
    /// Where local deployments live (state, logs, Prometheus target files).
    #[arg(long, value_name = "DIR", env = "SLUICE_DEPLOYMENTS_DIR")]
    pub deployments_dir: PathBuf,
}

/// Which deployment: project, stage and service.
#[derive(Debug, Args)]
pub struct DeploymentTarget {
    /// The project.
    #[arg(long, value_name = "PROJECT")]
    pub project: String,
    /// The stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: String,
    /// The service.
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// The deployments directory.
    #[command(flatten)]
    pub dir: DeploymentsDirArg,
}

/// Flags of `sluice deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Which deployment.
    #[command(flatten)]
    pub target: DeploymentTarget,
    /// The image, e.g. ghcr.io/podtato-head/podtatoserver:v0.1.1.
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// Number of instances (default: keep the current number, 1 on the first deploy).
    #[arg(long, value_name = "N")]
    pub replicas: Option<u32>,
    /// How long the new version may take to become healthy (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub wait_timeout: String,
    /// Write the deployment's address as Keptn task data ({"deployment": {...}}) to this file.
    #[arg(long, value_name = "FILE")]
    pub finished_data: Option<PathBuf>,
}

/// Flags of `sluice rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Which deployment.
    #[command(flatten)]
    pub target: DeploymentTarget,
    /// The revision to go back to (default: the one before the current one).
    #[arg(long, value_name = "N")]
    pub to_revision: Option<u32>,
    /// How long the instances may take to become healthy (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub wait_timeout: String,
    /// Write the deployment's address as Keptn task data to this file.
    #[arg(long, value_name = "FILE")]
    pub finished_data: Option<PathBuf>,
}

/// Flags of `sluice scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Which deployment.
    #[command(flatten)]
    pub target: DeploymentTarget,
    /// The number of instances wanted (absolute).
    #[arg(long, value_name = "N")]
    pub replicas: u32,
    /// How long added instances may take to become healthy (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub wait_timeout: String,
    /// Write the deployment's address as Keptn task data to this file.
    #[arg(long, value_name = "FILE")]
    pub finished_data: Option<PathBuf>,
}

/// `sluice deployments ...`
#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// Show every local deployment: image, instances running/desired, address, revision.
    Status(DeploymentsStatusArgs),
    /// Stop the instances of some or all local deployments (and, with --all, the supervisor).
    Stop(DeploymentsStopArgs),
    /// Run the supervisor that restarts instances that died (started by `sluice deploy`).
    Supervise(DeploymentsDirArg),
}

/// Flags of `sluice deployments status`.
#[derive(Debug, Args)]
pub struct DeploymentsStatusArgs {
    /// The deployments directory.
    #[command(flatten)]
    pub dir: DeploymentsDirArg,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// Flags of `sluice deployments stop`.
#[derive(Debug, Args)]
pub struct DeploymentsStopArgs {
    /// The deployments directory.
    #[command(flatten)]
    pub dir: DeploymentsDirArg,
    /// Stop every deployment and the supervisor.
    #[arg(long, conflicts_with_all = ["project", "stage", "service"])]
    pub all: bool,
    /// Only this project.
    #[arg(long, value_name = "PROJECT", required_unless_present = "all")]
    pub project: Option<String>,
    /// Only this stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Only this service.
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
}

/// Flags of `sluice server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Directory for the database, the project repositories and the API token.
    #[arg(
        long,
        value_name = "DIR",
        env = "SLUICE_DATA_DIR",
        default_value = "sluice-data"
    )]
    pub data_dir: PathBuf,
    /// Keep the database in PostgreSQL instead of the SQLite file in the data directory:
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, with libpq's TLS parameters
    /// (`?sslmode=verify-full&sslrootcert=/path/ca.pem`; see docs/cluster.md). The
    /// data directory still holds the project repositories, the token, the secrets key and
    /// the job runs.
    #[arg(long, value_name = "URL", env = "SLUICE_STORE")]
    pub store: Option<String>,
    /// With a PostgreSQL store, this replica's node id in the cluster (default: the host
    /// name and the listening port). Replicas on one database elect one leader, which runs
    /// the sequence engine; the others forward every request to it.
    #[arg(
        long = "node-id",
        value_name = "ID",
        env = "SLUICE_NODE_ID",
        requires = "store"
    )]
    pub node_id: Option<String>,
    /// With a PostgreSQL store, the URL the other replicas forward requests to when this
    /// replica leads (default: http:// and the listening address).
    #[arg(long, value_name = "URL", env = "SLUICE_ADVERTISE", requires = "store")]
    pub advertise: Option<String>,
    /// Address to listen on. Loopback by default; expose it deliberately.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    pub listen: std::net::SocketAddr,
    /// Connections served at once; more wait until one closes. Lowered at start so that
    /// descriptors stay free for the store, git and jobs (see docs/security.md).
    #[arg(long, value_name = "N", default_value_t = sluice_server::net::connections::DEFAULT_MAX_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// How long a client may take to send a request's headers; idle and slow connections
    /// are closed after it (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub header_timeout: std::time::Duration,
    /// How long a request body may pause before the request fails (Go duration).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = positive_duration)]
    pub body_timeout: std::time::Duration,
    /// Where job-executor tasks run: `local` (processes on this machine) or `kubernetes`
    /// (one Kubernetes Job per task, as job-executor-service ran them; kubeconfig or the
    /// pod's in-cluster configuration). See docs/kubernetes.md.
    #[arg(
        long,
        value_name = "BACKEND",
        env = "SLUICE_JOB_BACKEND",
        default_value = "local",
        value_parser = ["local", "kubernetes"]
    )]
    pub job_backend: String,
    /// Another backend for one project or stage: PROJECT[/STAGE]=BACKEND (repeatable, or
    /// comma-separated). A task's annotation `sluice.dev/job-backend` still wins.
    #[arg(
        long,
        value_name = "PROJECT[/STAGE]=BACKEND",
        env = "SLUICE_JOB_BACKEND_OVERRIDES",
        value_delimiter = ','
    )]
    pub job_backend_override: Vec<String>,
    /// Re-encrypt every stored secret under a new key before serving: a new random key in
    /// the data directory's key file, or, when the key comes from SLUICE_SECRETS_KEY, the one
    /// in SLUICE_SECRETS_NEW_KEY.
    #[arg(long)]
    pub rotate_secrets_key: bool,
    /// Publish a copy of every stored event to this NATS server's JetStream (stream SLUICE,
    /// subject = the event type, as Keptn's subjects; `Nats-Msg-Id` = the event id), so that
    /// remote integrations can consume task events from NATS. The store stays the truth:
    /// events are published after they are committed, in commit order, resuming after a
    /// restart or a NATS outage. Also `SLUICE_BUS`.
    #[arg(long, value_name = "nats://HOST:PORT", env = "SLUICE_BUS", value_parser = nats_url)]
    pub bus: Option<String>,
    /// Internal targets outgoing requests (webhooks, Prometheus) may reach besides public
    /// addresses, comma-separated: CIDR ranges or addresses (any port), ADDRESS:PORT, HOST or
    /// HOST:PORT (the host's addresses are then not checked). Default: public addresses only.
    #[arg(
        long,
        value_name = "CIDR|ADDR:PORT|HOST[:PORT],...",
        env = "SLUICE_OUTBOUND_ALLOW",
        value_parser = outbound_allow
    )]
    pub outbound_allow: Option<sluice_server::net::outbound::Outbound>,
    /// What an acknowledged write survives. `process-crash` (default): the server being
    /// killed at any moment (the SQLite store in WAL with `synchronous = NORMAL`, repository
    /// objects written without fsync). `power-loss`: also an operating-system crash or power
    /// loss, at the cost of an fsync per commit and per git object. On a PostgreSQL store,
    /// PostgreSQL's own settings decide for the database. Also `SLUICE_DURABILITY`.
    #[arg(
        long,
        value_enum,
        default_value = "process-crash",
        env = "SLUICE_DURABILITY"
    )]
    pub durability: DurabilityArg,
    /// How long the job executor keeps a task run (record, output, artifacts, and on a
    /// PostgreSQL store its shared copy) after the last change to it, as a Go duration
    /// (`720h` is 30 days); `0` keeps runs for ever. Runs of handlings under way are never
    /// removed. Checked at start and every hour. Also `SLUICE_JOB_RUNS_RETENTION`.
    #[arg(
        long,
        value_name = "DURATION",
        env = "SLUICE_JOB_RUNS_RETENTION",
        default_value = "720h",
        value_parser = retention
    )]
    pub job_runs_retention: Retention,
}

/// How long something is kept: a positive duration, or for ever (`0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<std::time::Duration>);

fn retention(text: &str) -> Result<Retention, String> {
    let d = sluice_model::duration::GoDuration::parse(text)
        .map_err(|e| format!("{e} (write it like 720h, or 0 to keep for ever)"))?;
    if d.is_negative() {
        return Err("must not be negative (0 keeps for ever)".to_owned());
    }
    Ok(Retention((d.as_nanos() != 0).then(|| d.to_std())))
}

/// What an acknowledged write survives (`--durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// The server process being killed at any moment.
    ProcessCrash,
    /// Also an operating-system crash or power loss.
    PowerLoss,
}

impl From<DurabilityArg> for sluice_store::Durability {
    fn from(d: DurabilityArg) -> Self {
        match d {
            DurabilityArg::ProcessCrash => sluice_store::Durability::ProcessCrash,
            DurabilityArg::PowerLoss => sluice_store::Durability::PowerLoss,
        }
    }
}

/// An outbound allowlist, for `--outbound-allow`.
fn outbound_allow(text: &str) -> Result<sluice_server::net::outbound::Outbound, String> {
    sluice_server::net::outbound::Outbound::parse(text).map_err(|e| e.to_string())
}

/// A Go duration longer than zero, for flags.
fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = sluice_model::duration::GoDuration::parse(text)
        .map_err(|e| format!("{e} (write it like 30s or 2m)"))?;
    if d.is_negative() || d.as_nanos() == 0 {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d.to_std())
}

/// Output formats of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// `file:line:column: severity: path: message` lines.
    Text,
    /// A JSON array with one object per file.
    Json,
}

/// Flags of `sluice lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files or directories to check.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors for the exit code.
    #[arg(long)]
    pub strict: bool,
    /// Check every file as this kind instead of telling the kind from the content.
    #[arg(long, value_name = "KIND", value_parser = ["shipyard", "slo", "sli", "job", "remediation"])]
    pub kind: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = LintFormat::Text)]
    pub output: LintFormat,
    /// When to use colours in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Whether to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[cfg(test)]
mod consistency {
    use clap::CommandFactory;

    /// clap's own checks (unique names, valid defaults, ...) over every subcommand.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// A retention is a Go duration; `0` keeps for ever; negative or unreadable ones are
    /// refused with what to write.
    #[test]
    fn retentions_are_go_durations_or_zero() {
        use super::{Retention, retention};
        let hours = |h: u64| Retention(Some(std::time::Duration::from_secs(h * 3600)));
        assert_eq!(retention("720h"), Ok(hours(720)));
        assert_eq!(retention("0"), Ok(Retention(None)));
        assert!(retention("-1h").unwrap_err().contains("0 keeps for ever"));
        assert!(retention("30d").unwrap_err().contains("720h"));
    }

    /// A task allowed to run `sluice` may run only the task subcommands: every subcommand
    /// (hidden ones included) must be classified, so a new one is refused until it is listed,
    /// and no subcommand has an alias or the root a global flag that would hide it from the
    /// job executor's check of the first argument.
    #[test]
    fn every_subcommand_is_classified_for_the_job_allowlist() {
        use sluice_server::services::jobs::{REFUSED_SUBCOMMANDS, TASK_SUBCOMMANDS};
        let cli = super::Cli::command();
        assert!(
            cli.get_arguments()
                .all(|a| matches!(a.get_id().as_str(), "help" | "version")),
            "a global flag before the subcommand would need the executor's check to skip it"
        );
        for sub in cli.get_subcommands() {
            let name = sub.get_name();
            assert!(
                TASK_SUBCOMMANDS.contains(&name) != REFUSED_SUBCOMMANDS.contains(&name),
                "`sluice {name}` must be in exactly one of TASK_SUBCOMMANDS and REFUSED_SUBCOMMANDS"
            );
            assert_eq!(
                sub.get_all_aliases().count(),
                0,
                "`sluice {name}` has an alias"
            );
        }
    }
}

/// Flags of `sluice bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Small sizes (20k events, 50 sequences, 20 overhead runs): checks that every benchmark
    /// works, in well under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Where to write the figures as JSON (default: target/sluice-bench.json in a checkout,
    /// else ./sluice-bench.json).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Keep the data in this (new or empty) directory instead of a removed temporary one.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Run only these groups of figures.
    #[arg(long, value_enum, num_args = 1.., value_name = "NAME")]
    pub only: Vec<BenchGroup>,
    /// PostgreSQL server of the cluster figures (an administrative `postgres://` URL; each
    /// measurement creates a database of its own). Default: `SLUICE_BENCH_PG`, else a
    /// throwaway cluster of the PostgreSQL 15 binaries, else the cluster figures are skipped.
    #[arg(long, value_name = "URL")]
    pub pg: Option<String>,
    /// Internal: run one measurement in a separate process.
    #[arg(long, value_enum, hide = true)]
    pub child: Option<BenchChild>,
}

/// Groups of figures of `sluice bench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchGroup {
    /// Control-plane overhead per task (p50, p99).
    Overhead,
    /// Task transitions per second with 1,000 concurrent sequences.
    Throughput,
    /// Events per second through POST /api/v1/event with 64 clients.
    Ingestion,
    /// Queries among 1,000,000 stored events, start-up time, memory afterwards.
    History,
    /// A 300-objective SLO with 50 previous results: time and peak memory.
    Evaluation,
    /// Resident memory of an idle server.
    Idle,
    /// Size of this binary.
    Binary,
    /// Replicas on PostgreSQL: transitions per second with one and three, failover time.
    Cluster,
}

/// Measurements `sluice bench` runs in a child process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchChild {
    /// Peak resident memory of one 300-objective evaluation.
    EvaluationMemory,
}

/// A `nats://` (or `tls://`) URL with a host.
fn nats_url(raw: &str) -> Result<String, String> {
    let rest = raw
        .strip_prefix("nats://")
        .or_else(|| raw.strip_prefix("tls://"))
        .ok_or_else(|| format!("{raw:?} is no NATS URL: expected nats://HOST:PORT"))?;
    if rest.is_empty() || rest.starts_with(':') || rest.contains(char::is_whitespace) {
        return Err(format!("{raw:?} names no host: expected nats://HOST:PORT"));
    }
    Ok(raw.to_owned())
}
