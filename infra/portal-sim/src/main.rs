//! `portal-sim`: serves the simulated portal on 127.0.0.1.
//!
//! ```text
//! portal-sim [--port 8401] [--seed 2016] [--per-day 200] [--token dev-portal-token] [--as-of YYYY-MM-DD]
//! ```

use std::sync::Arc;

use portal_sim::{DataConfig, Portal};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} needs a valid value")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let today = learning_core::Settings::default().today(chrono::Utc::now());
    let data = DataConfig {
        seed: arg(&args, "--seed", 2016)?,
        per_day: arg(&args, "--per-day", 200)?,
        ..DataConfig::default()
    };
    let portal = Arc::new(Portal::new(
        data,
        arg(&args, "--token", "dev-portal-token".to_string())?,
        arg(&args, "--as-of", today)?,
    ));
    let port: u16 = arg(&args, "--port", 8401)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(address = %listener.local_addr()?, "portal simulator listening");
    portal_sim::serve(listener, portal, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
