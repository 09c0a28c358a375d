//! Transcript tests of the sequence engine: one short script per rule, with the exact
//! expected effects and states (see [`super::transcript`] for the script language).

use super::EngineConfig;
use super::transcript::{check, check_with, normalize, run};

/// The tutorial's step-4 shipyard (qa quality gate, production with automatic approval and a
/// release-validation evaluation).
const STEP4: &str = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-delivery
spec:
  stages:
    - name: qa
      sequences:
        - name: delivery
          tasks:
            - name: je-deployment
            - name: je-test
            - name: evaluation
              properties:
                timeframe: "2m"
    - name: production
      sequences:
        - name: delivery
          triggeredOn:
            - event: qa.delivery.finished
          tasks:
            - name: approval
              properties:
                pass: automatic
                warning: automatic
            - name: je-deployment
            - name: je-test
            - name: evaluation
              properties:
                timeframe: "2m"
"#;

#[test]
fn happy_path_through_both_stages() {
    check(
        STEP4,
        r#"
        @0 trigger qa.delivery helloservice data={"configurationChange":{"values":{"image":"v0.1.1"}}}
        @1s done je-deployment
        @2s done je-test
        @3s done evaluation result=warning
        @4s done approval
        @5s done je-deployment
        @6s done je-test
        @7s done evaluation
        "#,
        r#"
        @0 trigger qa.delivery helloservice data={"configurationChange":{"values":{"image":"v0.1.1"}}}
          emit je-deployment.triggered id=id2 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-deployment id2]
        @1s done je-deployment
        @1s (finished)
          emit je-test.triggered id=id5 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-test id5]
        @2s done je-test
        @2s (finished)
          emit evaluation.triggered id=id8 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [evaluation id8]
        @3s done evaluation result=warning
        @3s (finished)
          emit qa.delivery.finished id=id11 ctx=c1 triggeredid=tr1 result="warning" status="succeeded"
          emit production.delivery.triggered id=id12 ctx=c1
          emit approval.triggered id=id14 ctx=c1 commit=production-head
          id1 qa.delivery helloservice c1: finished (warning succeeded)
          id13 production.delivery helloservice c1: waitingForApproval [approval id14]
        @4s done approval
        @4s (finished)
          emit je-deployment.triggered id=id17 ctx=c1 commit=production-head
          id13 production.delivery helloservice c1: started [je-deployment id17]
        @5s done je-deployment
        @5s (finished)
          emit je-test.triggered id=id20 ctx=c1 commit=production-head
          id13 production.delivery helloservice c1: started [je-test id20]
        @6s done je-test
        @6s (finished)
          emit evaluation.triggered id=id23 ctx=c1 commit=production-head
          id13 production.delivery helloservice c1: started [evaluation id23]
        @7s done evaluation
        @7s (finished)
          emit production.delivery.finished id=id26 ctx=c1 triggeredid=id12 result="pass" status="succeeded"
          id13 production.delivery helloservice c1: finished (pass succeeded)
        "#,
    );
}

#[test]
fn happy_path_payloads() {
    check(
        STEP4,
        r#"
        data on
        @0 trigger qa.delivery helloservice data={"configurationChange":{"values":{"image":"v0.1.1"}},"labels":{"buildId":"17"}}
        @1s done je-deployment data={"deployment":{"deploymentNames":["direct"]}}
        @2s done je-test msg=load_done
        @3s done evaluation result=warning data={"evaluation":{"score":75,"result":"warning"}}
        "#,
        r#"
        @0 trigger qa.delivery helloservice data={"configurationChange":{"values":{"image":"v0.1.1"}},"labels":{"buildId":"17"}}
          emit je-deployment.triggered id=id2 ctx=c1 commit=qa-head data={"configurationChange":{"values":{"image":"v0.1.1"}},"labels":{"buildId":"17"},"project":"fulltour","service":"helloservice","stage":"qa"}
          id1 qa.delivery helloservice c1: started [je-deployment id2]
        @1s done je-deployment data={"deployment":{"deploymentNames":["direct"]}}
        @1s (finished)
          emit je-test.triggered id=id5 ctx=c1 commit=qa-head data={"configurationChange":{"values":{"image":"v0.1.1"}},"deployment":{"deploymentNames":["direct"]},"labels":{"buildId":"17"},"project":"fulltour","result":"pass","service":"helloservice","stage":"qa","status":"succeeded"}
          id1 qa.delivery helloservice c1: started [je-test id5]
        @2s done je-test msg=load_done
        @2s (finished)
          emit evaluation.triggered id=id8 ctx=c1 commit=qa-head data={"configurationChange":{"values":{"image":"v0.1.1"}},"deployment":{"deploymentNames":["direct"]},"evaluation":{"timeframe":"2m"},"labels":{"buildId":"17"},"message":"","project":"fulltour","result":"pass","service":"helloservice","stage":"qa","status":"succeeded"}
          id1 qa.delivery helloservice c1: started [evaluation id8]
        @3s done evaluation result=warning data={"evaluation":{"score":75,"result":"warning"}}
        @3s (finished)
          emit qa.delivery.finished id=id11 ctx=c1 triggeredid=tr1 result="warning" status="succeeded"
          emit production.delivery.triggered id=id12 ctx=c1 data={"configurationChange":{"values":{"image":"v0.1.1"}},"deployment":{"deploymentNames":["direct"]},"evaluation":{"result":"warning","score":75},"labels":{"buildId":"17"},"message":"","project":"fulltour","result":"warning","service":"helloservice","stage":"production","status":"succeeded"}
          emit approval.triggered id=id14 ctx=c1 commit=production-head data={"approval":{"pass":"automatic","warning":"automatic"},"configurationChange":{"values":{"image":"v0.1.1"}},"deployment":{"deploymentNames":["direct"]},"evaluation":{"result":"warning","score":75},"labels":{"buildId":"17"},"message":"","project":"fulltour","result":"warning","service":"helloservice","stage":"production","status":"succeeded"}
          id1 qa.delivery helloservice c1: finished (warning succeeded)
          id13 production.delivery helloservice c1: waitingForApproval [approval id14]
        "#,
    );
}

/// One stage, two plain tasks: for merge and counting rules.
const TWO_TASKS: &str = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: two
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: t1
              properties:
                mode: "first"
            - name: t2
              properties:
                n: 6
                s: "new"
                flag: true
        - name: rollback
          triggeredOn:
            - event: dev.delivery.finished
              selector:
                match:
                  result: fail
          tasks:
            - name: rollback
        - name: notify
          triggeredOn:
            - event: dev.delivery.finished
              selector:
                match:
                  result: warning
          tasks:
            - name: notify
    - name: prod
      sequences:
        - name: delivery
          triggeredOn:
            - event: dev.delivery.finished
          tasks:
            - name: deploy
"#;

#[test]
fn payload_merge_keeps_old_numbers_and_booleans_and_puts_new_array_entries_first() {
    check(
        TWO_TASKS,
        r#"
        data on
        @0 trigger dev.delivery svc data={"n":1,"flag":false,"list":["in"],"message":"hello","t2":{"n":5,"s":"old"}}
        @1s done t1 msg=t1_done data={"n":2,"flag":true,"list":["t1"],"t1":{"out":"v"},"extra":"x"}
        "#,
        r#"
        @0 trigger dev.delivery svc data={"n":1,"flag":false,"list":["in"],"message":"hello","t2":{"n":5,"s":"old"}}
          emit t1.triggered id=id2 ctx=c1 commit=dev-head data={"flag":false,"list":["in"],"message":"","n":1,"project":"fulltour","service":"svc","stage":"dev","t1":{"mode":"first"},"t2":{"n":5,"s":"old"}}
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1 msg=t1_done data={"n":2,"flag":true,"list":["t1"],"t1":{"out":"v"},"extra":"x"}
        @1s (finished)
          emit t2.triggered id=id5 ctx=c1 commit=dev-head data={"extra":"x","flag":false,"list":["t1","in"],"message":"","n":1,"project":"fulltour","result":"pass","service":"svc","stage":"dev","status":"succeeded","t1":{"out":"v"},"t2":{"flag":true,"n":5,"s":"new"}}
          id1 dev.delivery svc c1: started [t2 id5]
        "#,
    );
}

#[test]
fn worst_result_and_status_win_across_executors() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s started t1 src=a
        @1s started t1 src=b
        @2s finished t1 src=a result=pass
        @3s finished t1 src=b result=warning
        @4s started t2 src=a
        @4s started t2 src=b
        @5s finished t2 src=a result=warning status=errored
        @6s finished t2 src=b result=pass
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s started t1 src=a
        @1s started t1 src=b
        @2s finished t1 src=a result=pass
        @3s finished t1 src=b result=warning
          emit t2.triggered id=id7 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t2 id7]
        @4s started t2 src=a
        @4s started t2 src=b
        @5s finished t2 src=a result=warning status=errored
        @6s finished t2 src=b result=pass
          emit dev.delivery.finished id=id12 ctx=c1 triggeredid=tr1 result="warning" status="errored"
          emit dev.notify.triggered id=id13 ctx=c1
          emit prod.delivery.triggered id=id14 ctx=c1
          emit notify.triggered id=id16 ctx=c1 commit=dev-head
          emit deploy.triggered id=id18 ctx=c1 commit=prod-head
          id1 dev.delivery svc c1: finished (warning errored)
          id15 dev.notify svc c1: started [notify id16]
          id17 prod.delivery svc c1: started [deploy id18]
        "#,
    );
}

#[test]
fn a_lone_finished_does_not_complete_a_task() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s finished t1
        @2s started t1 src=late
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s finished t1
        @2s started t1 src=late
          emit t2.triggered id=id5 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t2 id5]
        "#,
    );
}

#[test]
fn empty_result_counts_as_fail() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s done t1 result=
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1 result=
        @1s (finished)
          emit dev.delivery.finished id=id5 ctx=c1 triggeredid=tr1 result="fail" status="succeeded"
          emit dev.rollback.triggered id=id6 ctx=c1
          emit rollback.triggered id=id8 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: finished (fail succeeded)
          id7 dev.rollback svc c1: started [rollback id8]
        "#,
    );
}

#[test]
fn duplicate_trigger_is_ignored() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc id=same
        @1s trigger dev.delivery svc id=same
        "#,
        r#"
        @0 trigger dev.delivery svc id=same
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s trigger dev.delivery svc id=same
          ignored: sequence trigger same was already received
        "#,
    );
}

#[test]
fn late_and_unknown_task_events_are_ignored() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s done t1
        @2s finished t1 tid=id2
        @3s started t2 tid=nobody
        @4s started t2 ctx=other tid=id5
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1
        @1s (finished)
          emit t2.triggered id=id5 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t2 id5]
        @2s finished t1 tid=id2
          ignored: no open task was triggered with id id2
        @3s started t2 tid=nobody
          ignored: no open task was triggered with id nobody
        @4s started t2 ctx=other tid=id5
          ignored: no open task was triggered with id id5
        "#,
    );
}

#[test]
fn failed_task_ends_the_sequence_and_chains_only_fail_selectors() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s done t1 result=fail msg=broken
        @2s done rollback
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1 result=fail msg=broken
        @1s (finished)
          emit dev.delivery.finished id=id5 ctx=c1 triggeredid=tr1 result="fail" status="succeeded" message="broken"
          emit dev.rollback.triggered id=id6 ctx=c1
          emit rollback.triggered id=id8 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: finished (fail succeeded)
          id7 dev.rollback svc c1: started [rollback id8]
        @2s done rollback
        @2s (finished)
          emit dev.rollback.finished id=id11 ctx=c1 triggeredid=id6 result="pass" status="succeeded"
          id7 dev.rollback svc c1: finished (pass succeeded)
        "#,
    );
}

#[test]
fn errored_status_ends_the_sequence() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s done t1 result=pass status=errored
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1 result=pass status=errored
        @1s (finished)
          emit dev.delivery.finished id=id5 ctx=c1 triggeredid=tr1 result="pass" status="errored"
          emit prod.delivery.triggered id=id6 ctx=c1
          emit deploy.triggered id=id8 ctx=c1 commit=prod-head
          id1 dev.delivery svc c1: finished (pass errored)
          id7 prod.delivery svc c1: started [deploy id8]
        "#,
    );
}

#[test]
fn warning_fires_triggers_without_selector_and_warning_selectors_only() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s done t1
        @2s done t2 result=warning
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1
        @1s (finished)
          emit t2.triggered id=id5 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t2 id5]
        @2s done t2 result=warning
        @2s (finished)
          emit dev.delivery.finished id=id8 ctx=c1 triggeredid=tr1 result="warning" status="succeeded"
          emit dev.notify.triggered id=id9 ctx=c1
          emit prod.delivery.triggered id=id10 ctx=c1
          emit notify.triggered id=id12 ctx=c1 commit=dev-head
          emit deploy.triggered id=id14 ctx=c1 commit=prod-head
          id1 dev.delivery svc c1: finished (warning succeeded)
          id11 dev.notify svc c1: started [notify id12]
          id13 prod.delivery svc c1: started [deploy id14]
        "#,
    );
}

/// Step 5 of the tutorial: the self-retriggering remediation sequence.
const REMEDIATION: &str = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-delivery
spec:
  stages:
    - name: production
      sequences:
        - name: remediation
          triggeredOn:
            - event: production.remediation.finished
              selector:
                match:
                  evaluation.result: fail
          tasks:
            - name: get-action
            - name: action
            - name: evaluation
              properties:
                timeframe: "2m"
"#;

#[test]
fn remediation_retriggers_itself_while_the_evaluation_fails() {
    check(
        REMEDIATION,
        r#"
        @0 trigger production.remediation helloservice data={"problem":{"problemTitle":"http_response_time_seconds_main_page_sum"}}
        @1s done get-action data={"action":{"action":"scale","value":"2"},"get-action":{"actionIndex":1}}
        @2s done action
        @3s done evaluation result=fail
        @4s done get-action result=fail msg=no_more_actions
        "#,
        r#"
        @0 trigger production.remediation helloservice data={"problem":{"problemTitle":"http_response_time_seconds_main_page_sum"}}
          emit get-action.triggered id=id2 ctx=c1 commit=production-head
          id1 production.remediation helloservice c1: started [get-action id2]
        @1s done get-action data={"action":{"action":"scale","value":"2"},"get-action":{"actionIndex":1}}
        @1s (finished)
          emit action.triggered id=id5 ctx=c1 commit=production-head
          id1 production.remediation helloservice c1: started [action id5]
        @2s done action
        @2s (finished)
          emit evaluation.triggered id=id8 ctx=c1 commit=production-head
          id1 production.remediation helloservice c1: started [evaluation id8]
        @3s done evaluation result=fail
        @3s (finished)
          emit production.remediation.finished id=id11 ctx=c1 triggeredid=tr1 result="fail" status="succeeded"
          emit production.remediation.triggered id=id12 ctx=c1
          emit get-action.triggered id=id14 ctx=c1 commit=production-head
          id1 production.remediation helloservice c1: finished (fail succeeded)
          id13 production.remediation helloservice c1: started [get-action id14]
        @4s done get-action result=fail msg=no_more_actions
        @4s (finished)
          emit production.remediation.finished id=id17 ctx=c1 triggeredid=id12 result="fail" status="succeeded" message="no more actions"
          id13 production.remediation helloservice c1: finished (fail succeeded)
        "#,
    );
}

/// Two stages triggered by the same event.
const PARALLEL: &str = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: parallel
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
    - name: eu
      sequences:
        - name: delivery
          triggeredOn:
            - event: dev.delivery.finished
          tasks:
            - name: deployment
    - name: us
      sequences:
        - name: delivery
          triggeredOn:
            - event: dev.delivery.finished
          tasks:
            - name: deployment
            - name: test
"#;

#[test]
fn parallel_follow_ups_run_side_by_side() {
    check(
        PARALLEL,
        r#"
        @0 trigger dev.delivery svc
        @1s done deployment
        @2s done deployment tid=id9
        @3s done deployment tid=id11
        @4s done test
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit deployment.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [deployment id2]
        @1s done deployment
        @1s (finished)
          emit dev.delivery.finished id=id5 ctx=c1 triggeredid=tr1 result="pass" status="succeeded"
          emit eu.delivery.triggered id=id6 ctx=c1
          emit us.delivery.triggered id=id7 ctx=c1
          emit deployment.triggered id=id9 ctx=c1 commit=eu-head
          emit deployment.triggered id=id11 ctx=c1 commit=us-head
          id1 dev.delivery svc c1: finished (pass succeeded)
          id8 eu.delivery svc c1: started [deployment id9]
          id10 us.delivery svc c1: started [deployment id11]
        @2s done deployment tid=id9
        @2s (finished)
          emit eu.delivery.finished id=id14 ctx=c1 triggeredid=id6 result="pass" status="succeeded"
          id8 eu.delivery svc c1: finished (pass succeeded)
        @3s done deployment tid=id11
        @3s (finished)
          emit test.triggered id=id17 ctx=c1 commit=us-head
          id10 us.delivery svc c1: started [test id17]
        @4s done test
        @4s (finished)
          emit us.delivery.finished id=id20 ctx=c1 triggeredid=id7 result="pass" status="succeeded"
          id10 us.delivery svc c1: finished (pass succeeded)
        "#,
    );
}

#[test]
fn unknown_sequence_stage_or_empty_sequence_is_answered_with_an_errored_finished() {
    check(
        r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: x
spec:
  stages:
    - name: dev
      sequences:
        - name: empty
          tasks: []
"#,
        r#"
        @0 trigger dev.delivery svc
        @1s trigger nowhere.delivery svc
        @2s trigger dev.empty svc
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit dev.delivery.finished id=id1 ctx=c1 triggeredid=tr1 result="fail" status="errored" message="Unable to start sequence delivery: no task sequence with name delivery found in stage dev"
        @1s trigger nowhere.delivery svc
          emit nowhere.delivery.finished id=id2 ctx=c1 triggeredid=tr2 result="fail" status="errored" message="Unable to start sequence delivery: no stage with name nowhere"
        @2s trigger dev.empty svc
          emit dev.empty.finished id=id3 ctx=c1 triggeredid=tr3 result="fail" status="errored" message="Unable to start sequence empty: task sequence empty does not contain any tasks"
        "#,
    );
}

#[test]
fn implicit_evaluation_sequence() {
    check(
        STEP4,
        r#"
        data on
        @0 trigger qa.evaluation helloservice data={"evaluation":{"start":"2024-01-01T00:00:00.000Z","end":"2024-01-01T00:05:00.000Z"}}
        @1s done evaluation result=fail
        "#,
        r#"
        @0 trigger qa.evaluation helloservice data={"evaluation":{"start":"2024-01-01T00:00:00.000Z","end":"2024-01-01T00:05:00.000Z"}}
          emit evaluation.triggered id=id2 ctx=c1 commit=qa-head data={"evaluation":{"end":"2024-01-01T00:05:00.000Z","start":"2024-01-01T00:00:00.000Z"},"project":"fulltour","service":"helloservice","stage":"qa"}
          id1 qa.evaluation helloservice c1: started [evaluation id2]
        @1s done evaluation result=fail
        @1s (finished)
          emit qa.evaluation.finished id=id5 ctx=c1 triggeredid=tr1 result="fail" status="succeeded"
          id1 qa.evaluation helloservice c1: finished (fail succeeded)
        "#,
    );
}

/// A stage with a delayed task, a task with its own finish deadline and a failure follow-up
/// (which must not fire after a timeout).
const TIMED: &str = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: timed
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
              properties:
                timeout: "5m"
            - name: test
              triggeredAfter: "2m"
        - name: rollback
          triggeredOn:
            - event: dev.delivery.finished
              selector:
                match:
                  result: fail
          tasks:
            - name: rollback
"#;

#[test]
fn triggered_after_schedules_the_task_and_dispatches_when_the_timer_fires() {
    check(
        TIMED,
        r#"
        timers on
        @0 trigger dev.delivery svc
        @10s done deployment
        @1m tick
        @3m tick
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit deployment.triggered id=id2 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id2 at 10m0s
          id1 dev.delivery svc c1: started [deployment id2]
        @10s done deployment
          timer- started-deadline id1/id2
          timer+ finished-deadline id1/id2 at 5m10s
        @10s (finished)
          timer- finished-deadline id1/id2
          timer+ triggered-after id1/id5 at 2m10s
          id1 dev.delivery svc c1: started [test id5 delayed]
        @1m tick
        @2m10s timer triggered-after id1/id5
          emit test.triggered id=id5 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id5 at 12m10s
          id1 dev.delivery svc c1: started [test id5]
        @3m tick
        "#,
    );
}

#[test]
fn started_timeout_ends_the_sequence_without_chaining_and_lets_the_queue_proceed() {
    check(
        TIMED,
        r#"
        timers on
        @0 trigger dev.delivery svc
        @1s trigger dev.delivery svc ctx=c2
        @10m tick
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit deployment.triggered id=id2 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id2 at 10m0s
          id1 dev.delivery svc c1: started [deployment id2]
        @1s trigger dev.delivery svc ctx=c2
          id3 dev.delivery svc c2: waiting
        @10m0s timer started-deadline id1/id2
          emit dev.delivery.finished id=id4 ctx=c1 triggeredid=tr1 result="fail" status="errored" message="sequence timed out while waiting for task sh.keptn.event.deployment.triggered to receive a correlating .started or .finished event"
          emit deployment.triggered id=id5 ctx=c2 commit=dev-head
          timer+ started-deadline id3/id5 at 20m0s
          id1 dev.delivery svc c1: timedOut (fail errored)
          id3 dev.delivery svc c2: started [deployment id5]
        @10m tick
        "#,
    );
}

#[test]
fn finish_timeout_comes_from_the_task_timeout_property() {
    check(
        TIMED,
        r#"
        timers on
        @0 trigger dev.delivery svc
        @1m started deployment
        @6m tick
        @7m finished deployment
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit deployment.triggered id=id2 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id2 at 10m0s
          id1 dev.delivery svc c1: started [deployment id2]
        @1m started deployment
          timer- started-deadline id1/id2
          timer+ finished-deadline id1/id2 at 6m0s
        @6m0s timer finished-deadline id1/id2
          emit dev.delivery.finished id=id4 ctx=c1 triggeredid=tr1 result="fail" status="errored" message="sequence timed out while waiting for task sh.keptn.event.deployment.triggered to receive a completing .finished event within 5m0s after it was started"
          id1 dev.delivery svc c1: timedOut (fail errored)
        @6m tick
        @7m finished deployment
          ignored: no open task was triggered with id id2
        "#,
    );
}

#[test]
fn finish_timeout_default_is_configurable_and_a_lone_finished_cannot_hang() {
    let config = EngineConfig {
        finish_timeout: sluice_model::event::GoDuration::MINUTE,
        ..EngineConfig::default()
    };
    check_with(
        TWO_TASKS,
        r#"
        timers on
        @0 trigger dev.delivery svc
        @5s finished t1
        @2m tick
        "#,
        config,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id2 at 10m0s
          id1 dev.delivery svc c1: started [t1 id2]
        @5s finished t1
          timer- started-deadline id1/id2
          timer+ finished-deadline id1/id2 at 1m5s
        @1m5s timer finished-deadline id1/id2
          emit dev.delivery.finished id=id4 ctx=c1 triggeredid=tr1 result="fail" status="errored" message="sequence timed out while waiting for task sh.keptn.event.t1.triggered to receive a completing .finished event within 1m0s after it was started"
          id1 dev.delivery svc c1: timedOut (fail errored)
        @2m tick
        "#,
    );
}

#[test]
fn approval_is_exempt_from_the_finish_deadline() {
    check(
        STEP4,
        r#"
        timers on
        @0 trigger production.delivery helloservice
        @1s started approval src=approval-service
        @30h finished approval
        "#,
        r#"
        @0 trigger production.delivery helloservice
          emit approval.triggered id=id2 ctx=c1 commit=production-head
          timer+ started-deadline id1/id2 at 10m0s
          id1 production.delivery helloservice c1: waitingForApproval [approval id2]
        @1s started approval src=approval-service
          timer- started-deadline id1/id2
        @30h finished approval
          emit je-deployment.triggered id=id5 ctx=c1 commit=production-head
          timer+ started-deadline id1/id5 at 30h10m0s
          id1 production.delivery helloservice c1: started [je-deployment id5]
        "#,
    );
}

#[test]
fn stale_timers_are_ignored() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc
        @1s done t1
        @2s fire started-deadline id1/id2
        @3s fire finished-deadline id1/id5
        @4s fire started-deadline nobody/id5
        @11m tick
        @12m fire started-deadline id1/id5
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s done t1
        @1s (finished)
          emit t2.triggered id=id5 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t2 id5]
        @2s fire started-deadline id1/id2
          ignored: timer started-deadline id1/id2 is stale
        @3s fire finished-deadline id1/id5
          ignored: timer finished-deadline id1/id5 is stale
        @4s fire started-deadline nobody/id5
          ignored: timer started-deadline nobody/id5 is stale
        @10m1s timer started-deadline id1/id5
          emit dev.delivery.finished id=id6 ctx=c1 triggeredid=tr1 result="fail" status="errored" message="sequence timed out while waiting for task sh.keptn.event.t2.triggered to receive a correlating .started or .finished event"
          id1 dev.delivery svc c1: timedOut (fail errored)
        @11m tick
        @12m fire started-deadline id1/id5
          ignored: timer started-deadline id1/id5 is stale
        "#,
    );
}

#[test]
fn queue_is_fifo_per_service_by_trigger_time_and_services_run_in_parallel() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery a ctx=c1
        @1s trigger dev.delivery a ctx=c2 time=1s
        @2s trigger dev.delivery b ctx=c3
        @3s trigger dev.delivery a ctx=c4 time=500ms
        @4s done t1 ctx=c1
        @5s done t2 ctx=c1
        @6s done t1 ctx=c4
        @7s done t2 ctx=c4
        "#,
        r#"
        @0 trigger dev.delivery a ctx=c1
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery a c1: started [t1 id2]
        @1s trigger dev.delivery a ctx=c2 time=1s
          id3 dev.delivery a c2: waiting
        @2s trigger dev.delivery b ctx=c3
          emit t1.triggered id=id5 ctx=c3 commit=dev-head
          id4 dev.delivery b c3: started [t1 id5]
        @3s trigger dev.delivery a ctx=c4 time=500ms
          id6 dev.delivery a c4: waiting
        @4s done t1 ctx=c1
        @4s (finished)
          emit t2.triggered id=id9 ctx=c1 commit=dev-head
          id1 dev.delivery a c1: started [t2 id9]
        @5s done t2 ctx=c1
        @5s (finished)
          emit dev.delivery.finished id=id12 ctx=c1 triggeredid=tr1 result="pass" status="succeeded"
          emit prod.delivery.triggered id=id13 ctx=c1
          emit deploy.triggered id=id15 ctx=c1 commit=prod-head
          emit t1.triggered id=id16 ctx=c4 commit=dev-head
          id1 dev.delivery a c1: finished (pass succeeded)
          id14 prod.delivery a c1: started [deploy id15]
          id6 dev.delivery a c4: started [t1 id16]
        @6s done t1 ctx=c4
        @6s (finished)
          emit t2.triggered id=id19 ctx=c4 commit=dev-head
          id6 dev.delivery a c4: started [t2 id19]
        @7s done t2 ctx=c4
        @7s (finished)
          emit dev.delivery.finished id=id22 ctx=c4 triggeredid=tr4 result="pass" status="succeeded"
          emit prod.delivery.triggered id=id23 ctx=c4
          emit t1.triggered id=id25 ctx=c2 commit=dev-head
          id6 dev.delivery a c4: finished (pass succeeded)
          id24 prod.delivery a c4: waiting
          id3 dev.delivery a c2: started [t1 id25]
        "#,
    );
}

#[test]
fn waiting_for_approval_does_not_block_the_service() {
    check(
        STEP4,
        r#"
        @0 trigger production.delivery helloservice ctx=c1
        @1s trigger production.delivery helloservice ctx=c2
        @2s done approval ctx=c2
        @3s done approval ctx=c1
        @4s done je-deployment ctx=c2
        @5s done je-test ctx=c2
        @6s done evaluation ctx=c2
        "#,
        r#"
        @0 trigger production.delivery helloservice ctx=c1
          emit approval.triggered id=id2 ctx=c1 commit=production-head
          id1 production.delivery helloservice c1: waitingForApproval [approval id2]
        @1s trigger production.delivery helloservice ctx=c2
          emit approval.triggered id=id4 ctx=c2 commit=production-head
          id3 production.delivery helloservice c2: waitingForApproval [approval id4]
        @2s done approval ctx=c2
        @2s (finished)
          emit je-deployment.triggered id=id7 ctx=c2 commit=production-head
          id3 production.delivery helloservice c2: started [je-deployment id7]
        @3s done approval ctx=c1
        @3s (finished)
          id1 production.delivery helloservice c1: waiting [je-deployment id10 held]
        @4s done je-deployment ctx=c2
        @4s (finished)
          emit je-test.triggered id=id13 ctx=c2 commit=production-head
          id3 production.delivery helloservice c2: started [je-test id13]
        @5s done je-test ctx=c2
        @5s (finished)
          emit evaluation.triggered id=id16 ctx=c2 commit=production-head
          id3 production.delivery helloservice c2: started [evaluation id16]
        @6s done evaluation ctx=c2
        @6s (finished)
          emit production.delivery.finished id=id19 ctx=c2 triggeredid=tr2 result="pass" status="succeeded"
          emit je-deployment.triggered id=id10 ctx=c1 commit=production-head
          id3 production.delivery helloservice c2: finished (pass succeeded)
          id1 production.delivery helloservice c1: started [je-deployment id10]
        "#,
    );
}

#[test]
fn pause_holds_the_next_task_and_resume_releases_it() {
    check(
        STEP4,
        r#"
        @0 trigger qa.delivery helloservice
        @1s pause c1
        @2s done je-deployment
        @3s trigger qa.delivery other
        @4s resume c1
        "#,
        r#"
        @0 trigger qa.delivery helloservice
          emit je-deployment.triggered id=id2 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-deployment id2]
        @1s pause c1
          pauses: [c1]
          id1 qa.delivery helloservice c1: paused [je-deployment id2]
        @2s done je-deployment
        @2s (finished)
          id1 qa.delivery helloservice c1: paused [je-test id5 held]
        @3s trigger qa.delivery other
          id6 qa.delivery other c1: paused
        @4s resume c1
          emit je-test.triggered id=id5 ctx=c1 commit=qa-head
          emit je-deployment.triggered id=id7 ctx=c1 commit=qa-head
          pauses: []
          id1 qa.delivery helloservice c1: started [je-test id5]
          id6 qa.delivery other c1: started [je-deployment id7]
        "#,
    );
}

#[test]
fn pause_of_one_stage_leaves_the_others_running() {
    check(
        PARALLEL,
        r#"
        @0 trigger dev.delivery svc
        @1s pause c1 stage=us
        @2s done deployment
        @3s done deployment tid=id9
        @4s resume c1 stage=us
        "#,
        r#"
        @0 trigger dev.delivery svc
          emit deployment.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [deployment id2]
        @1s pause c1 stage=us
          pauses: [c1/us]
        @2s done deployment
        @2s (finished)
          emit dev.delivery.finished id=id5 ctx=c1 triggeredid=tr1 result="pass" status="succeeded"
          emit eu.delivery.triggered id=id6 ctx=c1
          emit us.delivery.triggered id=id7 ctx=c1
          emit deployment.triggered id=id9 ctx=c1 commit=eu-head
          id1 dev.delivery svc c1: finished (pass succeeded)
          id8 eu.delivery svc c1: started [deployment id9]
          id10 us.delivery svc c1: paused
        @3s done deployment tid=id9
        @3s (finished)
          emit eu.delivery.finished id=id13 ctx=c1 triggeredid=id6 result="pass" status="succeeded"
          id8 eu.delivery svc c1: finished (pass succeeded)
        @4s resume c1 stage=us
          emit deployment.triggered id=id14 ctx=c1 commit=us-head
          pauses: []
          id10 us.delivery svc c1: started [deployment id14]
        "#,
    );
}

#[test]
fn abort_ends_open_executions_cancels_the_running_task_and_starts_the_next_queued() {
    check(
        STEP4,
        r#"
        @0 trigger qa.delivery helloservice ctx=c1
        @1s trigger qa.delivery helloservice ctx=c2
        @2s started je-deployment ctx=c1
        @3s abort c1
        @4s finished je-deployment ctx=c1
        @5s abort c1
        "#,
        r#"
        @0 trigger qa.delivery helloservice ctx=c1
          emit je-deployment.triggered id=id2 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-deployment id2]
        @1s trigger qa.delivery helloservice ctx=c2
          id3 qa.delivery helloservice c2: waiting
        @2s started je-deployment ctx=c1
        @3s abort c1
          cancel-task je-deployment id2 exec=id1 ctx=c1
          emit qa.delivery.finished id=id5 ctx=c1 triggeredid=tr1 result="pass" status="aborted"
          emit je-deployment.triggered id=id6 ctx=c2 commit=qa-head
          id1 qa.delivery helloservice c1: aborted (pass aborted)
          id3 qa.delivery helloservice c2: started [je-deployment id6]
        @4s finished je-deployment ctx=c1
          ignored: no open task was triggered with id id2
        @5s abort c1
          ignored: no open sequence in context c1
        "#,
    );
}

#[test]
fn abort_of_a_queued_execution() {
    check(
        STEP4,
        r#"
        @0 trigger qa.delivery helloservice ctx=c1
        @1s trigger qa.delivery helloservice ctx=c2
        @2s abort c2 stage=qa
        @3s done je-deployment ctx=c1
        "#,
        r#"
        @0 trigger qa.delivery helloservice ctx=c1
          emit je-deployment.triggered id=id2 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-deployment id2]
        @1s trigger qa.delivery helloservice ctx=c2
          id3 qa.delivery helloservice c2: waiting
        @2s abort c2 stage=qa
          emit qa.delivery.finished id=id4 ctx=c2 triggeredid=tr2 result="pass" status="aborted"
          id3 qa.delivery helloservice c2: aborted (pass aborted)
        @3s done je-deployment ctx=c1
        @3s (finished)
          emit je-test.triggered id=id7 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-test id7]
        "#,
    );
}

/// The happy path, a delayed task, a pause and a queue, run once straight and once with a
/// restart (persist as JSON, restore) before every input: the transcripts must be the same.
#[test]
fn restore_from_serialized_executions_continues_identically() {
    let script = r#"
        @0 trigger qa.delivery helloservice ctx=c1
        @1s trigger qa.delivery helloservice ctx=c2
        @2s pause c2
        @3s done je-deployment ctx=c1
        @4s done je-test ctx=c1
        @5s started evaluation ctx=c1
        @6s finished evaluation ctx=c1 result=pass
        @7s done approval ctx=c1
        @8s resume c2
        @9s done je-deployment ctx=c1
        @10m tick
        @2h tick
    "#;
    let straight = run(STEP4, script, EngineConfig::default());
    let mut with_restarts = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let time = line.split(' ').next().unwrap_or("@0");
        with_restarts.push_str(&format!("{time} restart\n{line}\n"));
    }
    let restarted = run(STEP4, &with_restarts, EngineConfig::default());
    let without_restart_lines: Vec<String> = normalize(&restarted)
        .into_iter()
        .filter(|l| !l.ends_with(" restart") && !l.starts_with("restarted:"))
        .collect();
    assert_eq!(without_restart_lines, normalize(&straight));
    // And the straight run is what we expect (so the comparison is not vacuous).
    check(
        STEP4,
        script,
        r#"
        @0 trigger qa.delivery helloservice ctx=c1
          emit je-deployment.triggered id=id2 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-deployment id2]
        @1s trigger qa.delivery helloservice ctx=c2
          id3 qa.delivery helloservice c2: waiting
        @2s pause c2
          pauses: [c2]
          id3 qa.delivery helloservice c2: paused
        @3s done je-deployment ctx=c1
        @3s (finished)
          emit je-test.triggered id=id6 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [je-test id6]
        @4s done je-test ctx=c1
        @4s (finished)
          emit evaluation.triggered id=id9 ctx=c1 commit=qa-head
          id1 qa.delivery helloservice c1: started [evaluation id9]
        @5s started evaluation ctx=c1
        @6s finished evaluation ctx=c1 result=pass
          emit qa.delivery.finished id=id12 ctx=c1 triggeredid=tr1 result="pass" status="succeeded"
          emit production.delivery.triggered id=id13 ctx=c1
          emit approval.triggered id=id15 ctx=c1 commit=production-head
          id1 qa.delivery helloservice c1: finished (pass succeeded)
          id14 production.delivery helloservice c1: waitingForApproval [approval id15]
        @7s done approval ctx=c1
        @7s (finished)
          emit je-deployment.triggered id=id18 ctx=c1 commit=production-head
          id14 production.delivery helloservice c1: started [je-deployment id18]
        @8s resume c2
          emit je-deployment.triggered id=id19 ctx=c2 commit=qa-head
          pauses: []
          id3 qa.delivery helloservice c2: started [je-deployment id19]
        @9s done je-deployment ctx=c1
        @9s (finished)
          emit je-test.triggered id=id22 ctx=c1 commit=production-head
          id14 production.delivery helloservice c1: started [je-test id22]
        @10m tick
        @10m8s timer started-deadline id3/id19
          emit qa.delivery.finished id=id23 ctx=c2 triggeredid=tr2 result="fail" status="errored" message="sequence timed out while waiting for task sh.keptn.event.je-deployment.triggered to receive a correlating .started or .finished event"
          id3 qa.delivery helloservice c2: timedOut (fail errored)
        @10m9s timer started-deadline id14/id22
          emit production.delivery.finished id=id24 ctx=c1 triggeredid=id13 result="fail" status="errored" message="sequence timed out while waiting for task sh.keptn.event.je-test.triggered to receive a correlating .started or .finished event"
          id14 production.delivery helloservice c1: timedOut (fail errored)
        @2h tick
        "#,
    );
}

#[test]
fn restore_keeps_delays_and_pauses() {
    let script = r#"
        timers on
        @0 trigger dev.delivery svc
        @1s pause c1
        @10s done deployment
        @20s restart
        @3m tick
        @4m trigger dev.delivery svc2
        @5m resume c1
    "#;
    check(
        TIMED,
        script,
        r#"
        @0 trigger dev.delivery svc
          emit deployment.triggered id=id2 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id2 at 10m0s
          id1 dev.delivery svc c1: started [deployment id2]
        @1s pause c1
          pauses: [c1]
          id1 dev.delivery svc c1: paused [deployment id2]
        @10s done deployment
          timer- started-deadline id1/id2
          timer+ finished-deadline id1/id2 at 5m10s
        @10s (finished)
          timer- finished-deadline id1/id2
          timer+ triggered-after id1/id5 at 2m10s
          id1 dev.delivery svc c1: paused [test id5 delayed]
        @20s restart
          restarted: 1 executions, 1 timers
        @2m10s timer triggered-after id1/id5
          id1 dev.delivery svc c1: paused [test id5 held]
        @3m tick
        @4m trigger dev.delivery svc2
          id6 dev.delivery svc2 c1: paused
        @5m resume c1
          emit test.triggered id=id5 ctx=c1 commit=dev-head
          timer+ started-deadline id1/id5 at 15m0s
          emit deployment.triggered id=id7 ctx=c1 commit=dev-head
          timer+ started-deadline id6/id7 at 15m0s
          pauses: []
          id1 dev.delivery svc c1: started [test id5]
          id6 dev.delivery svc2 c1: started [deployment id7]
        "#,
    );
}

#[test]
fn echoes_of_own_events_are_ignored_and_a_commit_on_the_trigger_is_kept() {
    check(
        TWO_TASKS,
        r#"
        @0 trigger dev.delivery svc commit=abc123
        @1s echo id2
        @2s done t1
        @3s done t2 result=warning
        @4s echo id8
        @5s echo id9
        "#,
        r#"
        @0 trigger dev.delivery svc commit=abc123
          emit t1.triggered id=id2 ctx=c1 commit=abc123
          id1 dev.delivery svc c1: started [t1 id2]
        @1s echo id2
          ignored: event type sh.keptn.event.t1.triggered is not handled by the sequence engine
        @2s done t1
        @2s (finished)
          emit t2.triggered id=id5 ctx=c1 commit=abc123
          id1 dev.delivery svc c1: started [t2 id5]
        @3s done t2 result=warning
        @3s (finished)
          emit dev.delivery.finished id=id8 ctx=c1 triggeredid=tr1 result="warning" status="succeeded"
          emit dev.notify.triggered id=id9 ctx=c1
          emit prod.delivery.triggered id=id10 ctx=c1
          emit notify.triggered id=id12 ctx=c1 commit=dev-head
          emit deploy.triggered id=id14 ctx=c1 commit=prod-head
          id1 dev.delivery svc c1: finished (warning succeeded)
          id11 dev.notify svc c1: started [notify id12]
          id13 prod.delivery svc c1: started [deploy id14]
        @4s echo id8
          ignored: event type sh.keptn.event.dev.delivery.finished is not handled by the sequence engine
        @5s echo id9
          ignored: sequence trigger id9 was already received
        "#,
    );
}

#[test]
fn a_running_sequence_keeps_its_copy_of_the_shipyard() {
    const EDITED: &str = r#"
apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: two
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: t1
            - name: other
"#;
    let actual = super::transcript::run_with(
        &[TWO_TASKS, EDITED],
        r#"
        @0 trigger dev.delivery svc
        @1s shipyard 1
        @2s done t1
        @3s done t2
        "#,
        EngineConfig::default(),
    );
    // t2 comes from the execution's copy; chaining reads the current shipyard, which no longer
    // has a prod stage (Keptn used the cached shipyard for triggeredOn too).
    let expected = r#"
        @0 trigger dev.delivery svc
          emit t1.triggered id=id2 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t1 id2]
        @1s shipyard 1
        @2s done t1
        @2s (finished)
          emit t2.triggered id=id5 ctx=c1 commit=dev-head
          id1 dev.delivery svc c1: started [t2 id5]
        @3s done t2
        @3s (finished)
          emit dev.delivery.finished id=id8 ctx=c1 triggeredid=tr1 result="pass" status="succeeded"
          id1 dev.delivery svc c1: finished (pass succeeded)
        "#;
    assert_eq!(normalize(&actual), normalize(expected), "actual:\n{actual}");
}
