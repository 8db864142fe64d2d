//! CloudWatch metrics as log lines, in the embedded metric format: one
//! JSON line on stdout per report, which CloudWatch Logs turns into
//! metrics (`template.yaml`'s alarms watch them). No SDK call, no latency,
//! nothing personal: names and counts only.

use serde_json::{Map, Value, json};

/// The metrics' namespace.
pub const NAMESPACE: &str = "WebHR/Learning";

/// The line reporting `values` (name, count) for the deployment `stage`
/// (the `Stage` dimension) at `millis` since the epoch.
pub fn emf_line(stage: &str, values: &[(&str, u64)], millis: i64) -> String {
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, _)| json!({ "Name": name, "Unit": "Count" }))
        .collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stage"]],
                "Metrics": metrics,
            }],
        }),
    );
    line.insert("Stage".into(), json!(stage));
    for (name, value) in values {
        line.insert((*name).into(), json!(value));
    }
    Value::Object(line).to_string()
}

/// Prints [`emf_line`] for the stage in `STAGE` (`local` when unset).
pub fn publish(values: &[(&str, u64)]) {
    let stage = std::env::var("STAGE").unwrap_or_else(|_| "local".into());
    println!(
        "{}",
        emf_line(&stage, values, chrono::Utc::now().timestamp_millis())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cloudwatch_reads_as_metrics() {
        let line: Value = serde_json::from_str(&emf_line(
            "prod",
            &[("DaysBehind", 2), ("DaysFailed", 0)],
            7,
        ))
        .unwrap();
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(line["_aws"]["Timestamp"], 7);
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Stage"]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "DaysBehind", "Unit": "Count"}, {"Name": "DaysFailed", "Unit": "Count"}])
        );
        // Every dimension and metric named has its value at the top level.
        assert_eq!(
            (&line["Stage"], &line["DaysBehind"], &line["DaysFailed"]),
            (&json!("prod"), &json!(2), &json!(0))
        );
    }
}
