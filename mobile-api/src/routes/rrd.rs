//! The RRD archive: graphs of one file (PNG or SVG, rendered by the controller's librrd thread
//! through the `Archives` trait) and the list of files for autocompletion. A path's first
//! component is its probe's directory: only the caller's sites' probes are visible (another
//! site's file is 404, as everywhere); `rrdAlarm/` and `scripts/` only to callers who see every
//! site. It must not use the other resource modules.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use wirewatch_model::archive::{ArchiveError, ArchivePath, GraphFormat, GraphRequest, RESERVED_DIRS, probe_dir_name};

use super::extract::{Json, Query, S};
use crate::ApiState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;

fn archive_error(e: ArchiveError) -> ApiError {
    match e {
        ArchiveError::BadRequest(m) => ApiError::bad_request(m),
        ArchiveError::NotFound(p) => ApiError::not_found(format!("archive {p:?}")),
        ArchiveError::Busy => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "the graph renderer is busy; try again")
        }
        ArchiveError::Failed(m) => ApiError::internal(m),
    }
}

/// The archive directories of the probes the caller may see, and for a caller who sees every
/// site the controller's own beside them (`rrdAlarm/`, `scripts/`: not any one site's).
async fn visible_dirs(st: &ApiState, p: &Principal) -> ApiResult<HashSet<String>> {
    let mut dirs: HashSet<String> =
        st.store.probe_names(p.allowed()).await?.iter().map(|n| probe_dir_name(n)).collect();
    if p.allowed().is_none() {
        dirs.extend(RESERVED_DIRS.iter().map(|d| d.to_string()));
    }
    Ok(dirs)
}

fn archives(st: &ApiState) -> ApiResult<std::sync::Arc<dyn wirewatch_model::archive::Archives>> {
    st.archives.clone().ok_or_else(|| ApiError::not_found("the RRD archive (disabled on this controller)"))
}

/// A graph of one archive file, rendered by librrd.
#[utoipa::path(get, path = "/api/v1/rrd/graph", tag = "rrd", params(RrdGraphParams),
    responses((status = 200, description = "The image", content(("image/png"), ("image/svg+xml"))), Errors))]
pub(super) async fn graph(State(st): S, p: Principal, Query(q): Query<RrdGraphParams>) -> ApiResult<Response> {
    let path = ArchivePath::parse(&q.path, true).map_err(archive_error)?;
    let width = q.width.unwrap_or(600);
    let height = q.height.unwrap_or(200);
    if !(100..=4000).contains(&width) || !(60..=2000).contains(&height) {
        return Err(ApiError::bad_request("width must be 100-4000 and height 60-2000"));
    }
    let end = q.end.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let start = q.start.unwrap_or(end - 86_400);
    // Ten years at most, and after the epoch (rrdtool's time is unsigned here).
    if start < 0 || end <= start || end - start > 10 * 366 * 86_400 || end > 4_102_444_800 {
        return Err(ApiError::bad_request(
            "start and end are seconds since the epoch, start < end, at most 10 years apart",
        ));
    }
    let archives = archives(&st)?;
    if !visible_dirs(&st, &p).await?.contains(path.probe_dir()) {
        return Err(ApiError::not_found(format!("archive {:?}", path.as_str())));
    }
    let format = match q.format.unwrap_or(ImageFormat::Png) {
        ImageFormat::Png => GraphFormat::Png,
        ImageFormat::Svg => GraphFormat::Svg,
    };
    let image =
        archives.graph(GraphRequest { path, start, end, width, height, format }).await.map_err(archive_error)?;
    let ct = match format {
        GraphFormat::Png => "image/png",
        GraphFormat::Svg => "image/svg+xml",
    };
    Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "no-store")], image).into_response())
}

/// Archive files whose path starts with a prefix (autocompletion), of the caller's probes.
#[utoipa::path(get, path = "/api/v1/rrd/files", tag = "rrd", params(RrdFilesParams),
    responses((status = 200, body = RrdFiles), Errors))]
pub(super) async fn files(State(st): S, p: Principal, Query(q): Query<RrdFilesParams>) -> ApiResult<Json<RrdFiles>> {
    let prefix = ArchivePath::parse(q.prefix.as_deref().unwrap_or(""), false).map_err(archive_error)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-10000"));
    }
    let archives = archives(&st)?;
    let mut dirs: Vec<String> = visible_dirs(&st, &p).await?.into_iter().collect();
    dirs.sort();
    let files = archives.files(dirs, prefix, limit).await.map_err(archive_error)?;
    Ok(Json(RrdFiles { files }))
}
