//! Administrators' list of disputes — keys one agency holds that another
//! tried to write (a CSV row or a staff entry refused as held; see
//! `learning_core::ownership`) — and their settlement: the holder keeps
//! its record, or the claimant's record replaces it.

use axum::Json;
use axum::extract::{Path, State};
use dynamodb_store::{Dispute, Settlement, StoredRecord, dispute_position};
use learning_core::TrainingRecord;
use learning_core::import_log::{RunStatus, SettlementEntry, Trigger};
use serde::{Deserialize, Serialize};

use crate::input::{JsonBody, Params};
use crate::logs::EntryView;
use crate::records::RecordView;
use crate::{ApiError, AppState, Caller};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// The context a dispute's handle is sealed for.
const HANDLE: &str = "dispute";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A dispute as administrators see it: both records in full, to decide.
#[derive(Debug, Serialize)]
pub struct DisputeView {
    /// Opaque; names the dispute in `POST /v1/disputes/{dispute_id}/settlement`.
    pub dispute_id: String,
    pub claimant: String,
    pub holder: String,
    /// How the claimant wrote: `csv_import` or `staff_entered`.
    pub via: String,
    /// The import (log id) or the staff member.
    pub by: String,
    pub first_at: chrono::DateTime<chrono::Utc>,
    pub last_at: chrono::DateTime<chrono::Utc>,
    /// What the claimant meant to write.
    pub claimed: TrainingRecord,
    /// What holds the key now (absent when it went since).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<RecordView>,
}

#[derive(Debug, Serialize)]
pub struct DisputePage {
    pub disputes: Vec<DisputeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn view(state: &AppState, dispute: Dispute, held: Option<StoredRecord>) -> DisputeView {
    let position = dispute_position(&dispute.key(), &dispute.claimant);
    DisputeView {
        dispute_id: state.sealer.seal_stable(HANDLE, position.as_bytes()),
        claimant: dispute.claimant.to_string(),
        holder: dispute.holder.to_string(),
        via: dispute.via.as_str().to_string(),
        by: dispute.by,
        first_at: dispute.first_at,
        last_at: dispute.last_at,
        claimed: dispute.claimed,
        held: held.map(|h| RecordView::new(h, &state.sealer)),
    }
}

const ROUTE: &str = "/v1/disputes";

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<Query>,
) -> Result<Json<DisputePage>, ApiError> {
    caller.require_admin()?;
    let limit = crate::input::limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = state.sealer.open_cursor(ROUTE, query.cursor.as_deref())?;
    let (disputes, next) = state.store.disputes(limit, after.as_deref()).await?;
    // What holds each key now, read in batches.
    let keys: Vec<_> = disputes.iter().map(Dispute::key).collect();
    let held = state.store.records_by_key(&keys).await?;
    let views: Vec<DisputeView> = disputes
        .into_iter()
        .map(|dispute| {
            // Two claimants of one key: the same holder for both.
            let holding = held.get(&dispute.key()).cloned();
            view(&state, dispute, holding)
        })
        .collect();
    state.audit.people(
        &caller,
        views.iter().map(|v| &v.claimed.id_no),
        ROUTE,
        "list",
    );
    Ok(Json(DisputePage {
        disputes: views,
        next_cursor: state.sealer.cursor(ROUTE, next),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementRequest {
    /// `keep` (the holder keeps its record) or `transfer` (the claimant's
    /// record replaces it).
    decision: String,
}

#[derive(Debug, Serialize)]
pub struct Settled {
    /// The settlement's log entry, which both agencies' staff see.
    pub entry: EntryView,
    /// The record that holds the key now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordView>,
}

const SETTLE: &str = "/v1/disputes/{dispute_id}/settlement";

/// `POST /v1/disputes/{dispute_id}/settlement`: administrators settle a
/// dispute. A transfer replaces the holder's record with the claimant's,
/// in one transaction with the dispute's removal, only while that record
/// is still the holder's, unlocked and as read; a portal record is never
/// transferred (correct it at the portal).
pub async fn settle(
    State(state): State<AppState>,
    caller: Caller,
    Path(dispute_id): Path<String>,
    JsonBody(request): JsonBody<SettlementRequest>,
) -> Result<Json<Settled>, ApiError> {
    caller.require_admin()?;
    let (settlement, decision) = match request.decision.as_str() {
        "keep" => (Settlement::Keep, "keep"),
        "transfer" => (Settlement::Transfer, "transfer"),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_decision",
                "decision 須為 keep（保留原機關紀錄）或 transfer（改由申請機關的紀錄取代）",
            ));
        }
    };
    let position = state
        .sealer
        .open_text(HANDLE, &dispute_id)
        .ok_or_else(ApiError::not_found)?;
    let dispute = state
        .store
        .get_dispute(&position)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let key = dispute.key();
    let held = state.store.get_record(&key).await?;
    let version = match (settlement, &held) {
        (Settlement::Transfer, None) => return Err(ApiError::not_found()),
        (Settlement::Transfer, Some(held)) if held.locked => {
            return Err(dynamodb_store::StoreError::Locked.into());
        }
        (_, held) => held.as_ref().map_or(0, |h| h.version),
    };
    let now = state.now();
    let entry = SettlementEntry {
        log_id: learning_core::import_log::event_log_id("settlement", None, now),
        trigger: Trigger::Settlement,
        requested_by: caller.user.clone(),
        decision: decision.to_string(),
        agency: dispute.holder.to_string(),
        claimant: dispute.claimant.to_string(),
        started_at: now,
        finished_at: Some(now),
        status: RunStatus::Succeeded,
        record: crate::records::masked(&dispute.claimed),
    };
    state
        .store
        .settle_dispute(&dispute, settlement, version, &entry)
        .await?;
    state
        .audit
        .record(&caller, &key.id_no, SETTLE, decision, "ok");
    Ok(Json(Settled {
        entry: EntryView::Settlement(Box::new(entry.into())),
        record: state
            .store
            .get_record(&key)
            .await?
            .map(|r| RecordView::new(r, &state.sealer)),
    }))
}
