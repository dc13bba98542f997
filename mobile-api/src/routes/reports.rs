//! Scheduled scripts' runs (reports, and alarm scripts' logs): the list and one run's output.
//! Scheduled runs see every site, so their outputs need a user of every site. The output is
//! served as the script wrote it, in a sandbox (`Content-Security-Policy: sandbox`: a script
//! in a report's HTML runs in an opaque origin and cannot read this origin's storage). It
//! must not use the other resource modules.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use wirewatch_store::scripts::ScriptRun;

use super::extract::{Json, Path, Query, S};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::{ReportPage, ReportRun, ReportsParams};

fn require_every_site(p: &Principal) -> ApiResult<()> {
    p.require(Role::Viewer)?;
    if p.sites.is_some() {
        return Err(ApiError::forbidden(
            "scheduled scripts run over every site: their outputs need access to every site",
        ));
    }
    Ok(())
}

fn json(r: ScriptRun) -> ReportRun {
    ReportRun {
        output_href: format!("/api/v1/reports/{}/output", r.id),
        id: r.id,
        script: r.script,
        kind: r.kind,
        started_at: r.started_at,
        finished_at: r.finished_at,
        status: r.status,
        content_type: r.content_type,
        output_bytes: r.output_bytes,
        error: r.error,
        controller: r.controller,
        mailed_to: r.mailed_to,
        mail_error: r.mail_error,
    }
}

/// Scheduled scripts' runs, newest first.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportsParams),
    responses((status = 200, body = ReportPage), Errors))]
pub(super) async fn reports(State(st): S, p: Principal, Query(q): Query<ReportsParams>) -> ApiResult<Json<ReportPage>> {
    require_every_site(&p)?;
    let kind = match q.kind.as_deref().unwrap_or("report") {
        "all" => None,
        k @ ("report" | "alarm") => Some(k),
        other => return Err(ApiError::bad_request(format!("kind {other:?}: report, alarm or all"))),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-1000"));
    }
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .ok()
                .filter(|&id| id > 0)
                .ok_or_else(|| ApiError::bad_request("cursor: pass the next_cursor of the previous page"))?,
        ),
    };
    let mut list = st.store.script_runs(kind, q.script.as_deref(), before, limit + 1).await?;
    let more = list.len() as i64 > limit;
    list.truncate(limit as usize);
    let next_cursor = if more { list.last().map(|r| r.id.to_string()) } else { None };
    Ok(Json(ReportPage { items: list.into_iter().map(json).collect(), next_cursor }))
}

/// One run's output, with the content type the script gave it (sandboxed).
#[utoipa::path(get, path = "/api/v1/reports/{id}/output", tag = "reports",
    params(("id" = i64, Path, description = "The run's ID")),
    responses((status = 200, description = "The output as the script wrote it"), Errors))]
pub(super) async fn report_output(State(st): S, p: Principal, Path(id): Path<i64>) -> ApiResult<Response> {
    require_every_site(&p)?;
    let (run, body) =
        st.store.script_run_output(id).await?.ok_or_else(|| ApiError::not_found(format!("report run {id}")))?;
    // Only a content type that is a plain token pair goes through (a script sets it).
    let ct = if run.content_type.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && run.content_type.contains('/') {
        run.content_type
    } else {
        "application/octet-stream".into()
    };
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
