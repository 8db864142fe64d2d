//! SSM Parameter Store's `GetParameter` on 127.0.0.1, in its own protocol
//! (AWS JSON 1.1), for what the functions read from it at cold start: the
//! portal's token, a SecureString in the cloud.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::{Running, StackError};

/// Serves `parameters` (name → value) on 127.0.0.1:`port` (0 lets the
/// system pick).
pub async fn start_ssm(
    parameters: HashMap<String, String>,
    port: u16,
) -> Result<Running, StackError> {
    let router = axum::Router::new()
        .route("/", axum::routing::post(get_parameter))
        .with_state(Arc::new(parameters));
    crate::serve(router, port).await
}

async fn get_parameter(
    State(parameters): State<Arc<HashMap<String, String>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let fail = |status: StatusCode, kind: &str, message: String| {
        answer(status, json!({ "__type": kind, "message": message }))
    };
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    if target != Some("AmazonSSM.GetParameter") {
        return fail(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            format!("only GetParameter here, not {target:?}"),
        );
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let name = request["Name"].as_str().unwrap_or_default();
    match parameters.get(name) {
        Some(value) => answer(
            StatusCode::OK,
            json!({ "Parameter": {
                "Name": name,
                "Type": "SecureString",
                "Value": value,
                "Version": 1,
                "ARN": format!("arn:aws:ssm:{}:000000000000:parameter{name}", crate::REGION),
            }}),
        ),
        None => fail(
            StatusCode::BAD_REQUEST,
            "ParameterNotFound",
            format!("Parameter {name} not found."),
        ),
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}
