//! TLS to PostgreSQL: the store's connections are encrypted and the server verified when the
//! URL asks for it (`sslmode`, `sslrootcert`), and a server the given CA did not sign is
//! refused before anything is sent.

use sqlx::Connection;

use crate::test_cluster::{fresh_database, required, tls_fixtures, with_query};
use crate::{Options, Store, StoreLocation};

/// A fresh database URL without query parameters and the fixtures' directory, or `None`
/// (after saying why) when PostgreSQL or a TLS-serving server is not available.
async fn tls_database(what: &str) -> Option<(String, std::path::PathBuf)> {
    let url = fresh_database(what).await?;
    let Some(fixtures) = tls_fixtures() else {
        assert!(!required(), "{what}: the TLS fixtures are missing");
        println!("{what}: skipped: no TLS fixtures in this build");
        return None;
    };
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{what}: connect: {e}"));
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl")
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{what}: SHOW ssl: {e}"));
    let _ = conn.close().await;
    if ssl != "on" {
        assert!(
            !required(),
            "{what}: the PostgreSQL server of the tests must serve TLS (see .ci/run)"
        );
        println!("{what}: skipped: the PostgreSQL server does not serve TLS");
        return None;
    }
    let plain = url
        .split_once('?')
        .map_or(url.as_str(), |(u, _)| u)
        .to_owned();
    Some((plain, fixtures))
}

/// Whether every connection of the store (application `sluice`) to this database is
/// encrypted, asked on a connection of `url`.
async fn store_connections_encrypted(url: &str) -> Vec<bool> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    let rows: Vec<(bool,)> = sqlx::query_as(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid \
         WHERE a.application_name = 'sluice' AND a.datname = current_database()",
    )
    .fetch_all(&mut conn)
    .await
    .expect("pg_stat_ssl");
    let _ = conn.close().await;
    rows.into_iter().map(|(ssl,)| ssl).collect()
}

#[tokio::test]
async fn a_verified_tls_connection_carries_the_store() {
    let Some((url, fixtures)) = tls_database("verified TLS").await else {
        return;
    };
    let verified = with_query(
        &url,
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            fixtures.join("ca.pem").display()
        ),
    );
    let store = Store::open_location(
        &StoreLocation::Postgres(verified.clone()),
        Options::default(),
    )
    .await
    .expect("open over verified TLS");
    let registration = crate::UniformRegistration {
        id: "tls".into(),
        name: "tls-check".into(),
        metadata: serde_json::json!({"hostname": "test"}),
        subscriptions: serde_json::json!([]),
        last_seen: sluice_model::event::Timestamp::from_unix(1_704_067_200, 0),
    };
    store
        .upsert_registration(&registration)
        .await
        .expect("write");
    assert_eq!(
        store.registrations().await.expect("read"),
        vec![registration]
    );
    let encrypted = store_connections_encrypted(&verified).await;
    assert!(!encrypted.is_empty(), "the store holds connections");
    assert!(encrypted.iter().all(|e| *e), "{encrypted:?}");
}

#[tokio::test]
async fn a_server_signed_by_another_ca_is_refused() {
    let Some((url, fixtures)) = tls_database("TLS with another CA").await else {
        return;
    };
    for mode in ["verify-ca", "verify-full"] {
        let wrong = with_query(
            &url,
            &format!(
                "sslmode={mode}&sslrootcert={}",
                fixtures.join("other-ca.pem").display()
            ),
        );
        let e = Store::open_location(&StoreLocation::Postgres(wrong), Options::default())
            .await
            .expect_err("a server the CA did not sign");
        let message = e.to_string();
        assert!(matches!(e, crate::Error::Tls(_)), "{mode}: {e:?}");
        assert!(
            message.contains("certificate") || message.contains("UnknownIssuer"),
            "{mode}: {message}"
        );
        assert!(
            message.contains("sslrootcert"),
            "{mode}: says what to check: {message}"
        );
    }
}

#[tokio::test]
async fn sslmode_disable_keeps_the_connections_plain() {
    let Some((url, _)) = tls_database("TLS disabled").await else {
        return;
    };
    let plain = with_query(&url, "sslmode=disable");
    let store = Store::open_location(&StoreLocation::Postgres(plain.clone()), Options::default())
        .await
        .expect("open without TLS");
    store.registrations().await.expect("read");
    let encrypted = store_connections_encrypted(&plain).await;
    assert!(!encrypted.is_empty(), "the store holds connections");
    assert!(encrypted.iter().all(|e| !*e), "{encrypted:?}");
}
