//! The client against the real simulator on 127.0.0.1: paging, retries,
//! Retry-After, timeouts, malformed pages, credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use portal_client::{PortalClient, PortalConfig, PortalError, Secret};
use portal_sim::{DataConfig, Faults, Portal, RunningPortal};

const TOKEN: &str = "test-token-7f3a";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn simulator(per_day: u32) -> RunningPortal {
    let data = DataConfig {
        per_day,
        ..DataConfig::default()
    };
    portal_sim::start(Arc::new(Portal::new(data, TOKEN, day("2016-03-01"))))
        .await
        .unwrap()
}

fn client(sim: &RunningPortal, tweak: impl FnOnce(&mut PortalConfig)) -> PortalClient {
    let mut config = PortalConfig::new(sim.url(), Secret::new(TOKEN));
    config.page_size = 7;
    config.base_backoff = Duration::from_millis(5);
    config.max_backoff = Duration::from_millis(20);
    config.timeout = Duration::from_secs(5);
    tweak(&mut config);
    PortalClient::new(config).unwrap()
}

fn requests(sim: &RunningPortal) -> u64 {
    sim.portal
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test]
async fn follows_every_page_of_a_day() {
    let sim = simulator(60).await;
    let d = day("2016-02-03");
    let records = client(&sim, |_| {}).changes_on(d).await.unwrap();
    let truth = sim.portal.generator().changes_on(d, sim.portal.as_of());
    assert!(truth.len() > 20, "the day should span several pages");
    assert_eq!(records.len(), truth.len());
    assert_eq!(requests(&sim), truth.len().div_ceil(7) as u64);
    for (got, want) in records.iter().zip(&truth) {
        let got = got.as_ref().expect("a record of the API's shape");
        assert_eq!(got.id.as_str(), want.record_id);
        assert_eq!(got.raw.id_no, want.id_no);
        assert_eq!(got.raw.term, want.term.to_string());
        assert!(got.raw.validate().is_ok());
    }
}

#[tokio::test]
async fn a_range_for_one_agency_holds_only_that_agency() {
    let sim = simulator(60).await;
    let agency = learning_core::AgencyCode::parse("A58000000A").unwrap();
    let records = client(&sim, |_| {})
        .changes_between(day("2016-02-01"), day("2016-02-07"), Some(&agency))
        .await
        .unwrap();
    assert!(!records.is_empty());
    assert!(
        records
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.raw.org_code == "A58000000A"))
    );
}

#[tokio::test]
async fn retries_server_errors_and_succeeds() {
    let sim = simulator(10).await;
    sim.portal.set_faults(Faults {
        fail_next: 3,
        ..Faults::default()
    });
    let records = client(&sim, |_| {})
        .changes_on(day("2016-02-03"))
        .await
        .unwrap();
    assert!(!records.is_empty());
    assert!(requests(&sim) >= 4);
}

#[tokio::test]
async fn gives_up_after_the_attempt_budget_with_a_clear_error() {
    let sim = simulator(10).await;
    sim.portal.set_faults(Faults {
        outage: true,
        ..Faults::default()
    });
    let err = client(&sim, |c| c.max_attempts = 3)
        .changes_on(day("2016-02-03"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PortalError::Unavailable {
                page: 1,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "portal_unavailable");
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(requests(&sim), 3);
}

#[tokio::test]
async fn waits_as_long_as_retry_after_asks() {
    let sim = simulator(10).await;
    sim.portal.set_faults(Faults {
        rate_limit_rate: 1.0,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let portal = sim.portal.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        portal.set_faults(Faults::default());
    });
    let started = Instant::now();
    client(&sim, |c| c.page_size = 1000)
        .changes_on(day("2016-02-03"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before Retry-After"
    );
    assert_eq!(requests(&sim), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_an_outage() {
    let sim = simulator(10).await;
    sim.portal.set_faults(Faults {
        rate_limit_rate: 1.0,
        retry_after_secs: 3600,
        ..Faults::default()
    });
    let err = client(&sim, |_| {})
        .changes_on(day("2016-02-03"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortalError::Unavailable { attempts: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_hanging_portal_times_out_and_is_retried() {
    let sim = simulator(10).await;
    sim.portal.set_faults(Faults {
        hang_rate: 1.0,
        ..Faults::default()
    });
    let err = client(&sim, |c| {
        c.timeout = Duration::from_millis(300);
        c.max_attempts = 2;
    })
    .changes_on(day("2016-02-03"))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("逾時"), "{err}");
    assert_eq!(requests(&sim), 2);
}

#[tokio::test]
async fn a_malformed_page_names_the_page_and_field() {
    let sim = simulator(60).await;
    sim.portal.set_faults(Faults {
        malformed_rate: 1.0,
        ..Faults::default()
    });
    let err = client(&sim, |c| c.max_attempts = 2)
        .changes_on(day("2016-02-03"))
        .await
        .unwrap_err();
    match &err {
        PortalError::Malformed { page, field, .. } => {
            assert_eq!(*page, 1);
            assert_eq!(field, "records");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    assert!(err.to_string().contains("第 1 頁"));
}

/// A record of the wrong JSON type is refused on its own, naming the
/// field and never the value; the page around it is read.
#[tokio::test]
async fn a_record_of_the_wrong_type_is_refused_alone() {
    let data = DataConfig {
        per_day: 60,
        odd_type_share: 0.2,
        ..DataConfig::default()
    };
    let sim = portal_sim::start(Arc::new(Portal::new(data, TOKEN, day("2016-03-01"))))
        .await
        .unwrap();
    let d = day("2016-02-03");
    let served = sim.portal.day(d);
    let records = client(&sim, |_| {}).changes_on(d).await.unwrap();
    assert_eq!(records.len(), served.len());
    let mut odd = 0;
    for (got, want) in records.iter().zip(served.iter()) {
        match (got, want.defect) {
            (Err(unreadable), Some(portal_sim::Defect::OddType)) => {
                odd += 1;
                assert_eq!(unreadable.problem.code, "invalid_type");
                assert_eq!(unreadable.problem.field, Some("term"));
                assert_eq!(unreadable.id_no, want.id_no, "kept to be masked");
                assert!(!unreadable.problem.message.contains(&want.id_no));
                assert!(!format!("{unreadable:?}").contains(&want.id_no));
            }
            (Ok(record), defect) => {
                assert_ne!(defect, Some(portal_sim::Defect::OddType));
                assert_eq!(record.raw.id_no, want.id_no);
            }
            (Err(unreadable), defect) => panic!("{unreadable:?} refused, served {defect:?}"),
        }
    }
    assert!(odd > 0, "the simulator served some");
}

#[tokio::test]
async fn a_truncated_page_is_retried_then_reported() {
    let sim = simulator(10).await;
    sim.portal.set_faults(Faults {
        truncated_rate: 1.0,
        ..Faults::default()
    });
    let err = client(&sim, |c| c.max_attempts = 2)
        .changes_on(day("2016-02-03"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "portal_malformed");
    assert_eq!(requests(&sim), 2);
    sim.portal.set_faults(Faults {
        truncated_rate: 0.5,
        ..Faults::default()
    });
    let records = client(&sim, |c| c.max_attempts = 10)
        .changes_on(day("2016-02-03"))
        .await
        .unwrap();
    assert!(!records.is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_refused_once_and_never_shown() {
    let sim = simulator(10).await;
    let mut config = PortalConfig::new(sim.url(), Secret::new("wrong-token-zz9"));
    config.base_backoff = Duration::from_millis(1);
    assert!(!format!("{config:?}").contains("wrong-token-zz9"));
    let err = PortalClient::new(config)
        .unwrap()
        .changes_on(day("2016-02-03"))
        .await
        .unwrap_err();
    assert!(matches!(err, PortalError::Unauthorized));
    assert!(!err.to_string().contains("wrong-token-zz9"));
    assert_eq!(requests(&sim), 1);
}

#[tokio::test]
async fn configuration_errors_name_the_variable() {
    let env = learning_core::Env::from_pairs;
    let err = PortalConfig::from_env(&env(&[("PORTAL_TOKEN", "t")])).unwrap_err();
    assert_eq!(err.variable(), "PORTAL_BASE_URL");
    let err = PortalConfig::from_env(&env(&[
        ("PORTAL_BASE_URL", "ftp://x"),
        ("PORTAL_TOKEN", "t"),
    ]))
    .unwrap_err();
    assert_eq!(err.variable(), "PORTAL_BASE_URL");
    let err =
        PortalConfig::from_env(&env(&[("PORTAL_BASE_URL", "http://127.0.0.1:1/")])).unwrap_err();
    assert_eq!(err.variable(), "PORTAL_TOKEN");
    let ok = PortalConfig::from_env(&env(&[
        ("PORTAL_BASE_URL", "http://127.0.0.1:1/"),
        ("PORTAL_TOKEN", "t"),
    ]))
    .unwrap();
    assert_eq!(ok.base_url, "http://127.0.0.1:1");
}
