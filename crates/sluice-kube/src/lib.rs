//! Kubernetes Jobs for job-executor-service tasks.
//!
//! [`build`] turns one task of a parsed `job/config.yaml` plus the triggering event into the
//! `batch/v1` Job job-executor-service (JES, `keptn-contrib/job-executor-service@4511213`,
//! `pkg/k8sutils/job.go`) created, and a per-run ConfigMap with the task's `files`.
//! [`ClusterAllowlists`] decides which images, namespaces and service accounts tasks may use.
//! The crate is pure: no IO, no clock, no Kubernetes client.
//!
//! **Kept from JES:** labels (`keptn.sh/*`, sanitised action and task names), the task's
//! annotations, namespace (`namespace`, else the default), image, `cmd`/`args` unexpanded
//! (Kubernetes expands `$(VAR)`), env order (task entries, `KEPTN_PROJECT/STAGE/SERVICE`,
//! `LABELS_<KEY>`), secrets as `secretKeyRef` per key, resources with JES's defaults and the
//! replace-all rule, `workingDir`, the pod and container security contexts and the
//! field-by-field merge, the privileged refusal, `serviceAccountName`, `imagePullPolicy`,
//! `ttlSecondsAfterFinished` (default 21600, at least 60), `backoffLimit: 0`,
//! `restartPolicy: Never`, the 20Mi `job-volume` emptyDir at `/keptn`.
//!
//! **Deliberately different** (also in `docs/compatibility.md`):
//! - the name is `sluice-<12 hex of SHA-256(context, event id, indexes)>-<a>-<t>`, so a
//!   re-delivered task finds its Job (409) instead of starting another; no `--`, no panic on
//!   short event ids;
//! - `app.kubernetes.io/managed-by` is `sluice`;
//! - files come from an immutable per-run ConfigMap that an init container copies into
//!   `/keptn`; the pod needs no route back to sluice and holds **no Keptn API token** (JES's
//!   init container got the full token); a task without files has no init container;
//! - `activeDeadlineSeconds` is `maxPollDuration` (capped by the task deadline setting), so the
//!   cluster stops a task when sluice stops waiting for it (JES left it running);
//! - `imagePullPolicy`, namespace and service account names are checked, and a
//!   `seccompProfile` without `type` is refused (JES crashed);
//! - `LABELS_<KEY>` and secret keys come in sorted order (JES: Go map order, random).
//!
//! **Verified:** unit tests per job-config feature, and golden fixtures: the seed tutorial's
//! `examples/fulltour/job/config.yaml` renders to the snapshots in `tests/fixtures/`, and each
//! sluice Job equals the Job JES would create (hand-derived from `job.go` and the chart's
//! defaults, also in `tests/fixtures/`) except at the listed deliberate differences.
//! **Not verified:** anything against a live cluster or API server; no request is sent by this
//! crate. Quantities are passed through as written (the API server canonicalises them, JES
//! sent them canonicalised).

mod allowlist;
mod job;
pub mod names;

pub use allowlist::{
    ALLOWED_IMAGES_SETTING, ALLOWED_NAMESPACES_SETTING, ALLOWED_SERVICE_ACCOUNTS_SETTING,
    Allowlist, AllowlistParseError, ClusterAllowlists, Refusal,
};
pub use job::{
    BuildError, BuiltJob, CONFIG_MAP_MAX_BYTES, DEFAULT_INIT_IMAGE, DEFAULT_SERVICE_ACCOUNT,
    EnvEntry, FILES_DIR, FILES_VOLUME, JOB_VOLUME, JobSettings, KEPTN_DIR, MANAGED_BY, TaskEvent,
    TaskFile, TaskRun, build, label_var_name,
};
