//! The bookings of a partner's venues (role `partner`, scoped to its offerer): a paged
//! list, one booking, and the same bookings exported as CSV or XLSX with the columns the partner
//! chooses. Filtering by another offerer's venue or offer is a 404, never its data.

use analytics::download::{self, DownloadColumn, Values};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use engine::ids::{BookingId, OfferId, OffererId, VenueId};
use engine::store::{PartnerBooking, PartnerBookingFilter};
use engine::views::rfc3339;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{offerer_of, Caller};
use crate::extract::{Path, Query};
use crate::paging::{OffsetPage, Paging};
use crate::problem::{Problem, SignedInProblems};

/// The partner bookings routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(export))
}

/// Bookings one export may hold: a worksheet's worth (see [`analytics::XLSX_MAX_ROWS`]);
/// beyond, the partner filters by venue, offer or status.
const MAX_EXPORT_ROWS: usize = analytics::XLSX_MAX_ROWS;

/// The filters both routes take; ids of another offerer are refused as not found.
async fn filter(
    engine: &AppState,
    offerer: OffererId,
    venue_id: Option<i64>,
    offer_id: Option<i64>,
    status: Option<String>,
) -> Answer<PartnerBookingFilter> {
    if let Some(v) = venue_id {
        engine
            .store()
            .venue(VenueId(v))
            .await?
            .filter(|venue| venue.offerer_id == offerer)
            .ok_or_else(|| Problem::not_found(format!("venue {v} not found")))?;
    }
    if let Some(o) = offer_id {
        engine
            .store()
            .partner_offer(offerer, OfferId(o))
            .await?
            .ok_or_else(|| Problem::not_found(format!("offer {o} not found")))?;
    }
    if let Some(s) = &status {
        if !matches!(s.as_str(), "confirmed" | "used" | "cancelled") {
            return Err(Problem::bad_request(
                "status must be confirmed, used or cancelled",
            ));
        }
    }
    Ok(PartnerBookingFilter {
        venue_id: venue_id.map(VenueId),
        offer_id: offer_id.map(OfferId),
        status,
    })
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ListParams {
    venue_id: Option<i64>,
    offer_id: Option<i64>,
    status: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[utoipa::path(
    get, path = "/v1/partner/bookings", tag = "partner",
    params(ListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OffsetPage<PartnerBooking>),
        SignedInProblems
    )
)]
async fn list(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Query(p): Query<ListParams>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let paging = Paging::new(p.limit, p.offset, 50)?;
    let filter = filter(&engine, offerer, p.venue_id, p.offer_id, p.status).await?;
    let items = engine
        .store()
        .partner_bookings(offerer, &filter, paging.limit, paging.offset)
        .await?;
    Ok(axum::Json(paging.page(items)))
}

/// One booking of the partner's offers; another offerer's booking is a 404.
#[utoipa::path(
    get, path = "/v1/partner/bookings/{id}", tag = "partner",
    params(("id" = i64, Path, description = "The booking")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PartnerBooking),
        SignedInProblems
    )
)]
async fn one(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let booking = engine
        .store()
        .partner_booking(offerer, BookingId(id))
        .await?
        .ok_or_else(|| Problem::not_found(format!("booking {id} not found")))?;
    Ok(axum::Json(booking))
}

/// The columns an export may have, in their default order.
const COLUMNS: [&str; 15] = [
    "id",
    "token",
    "status",
    "offer_id",
    "offer_title",
    "venue_id",
    "venue_name",
    "stock_id",
    "beginning_at",
    "quantity",
    "amount_cents",
    "user_id",
    "created_at",
    "used_at",
    "cancelled_at",
];

/// `?columns=a,b,c` checked against [`COLUMNS`]: known, each once, at least one; all of
/// them when absent.
fn columns(asked: Option<&str>) -> Answer<Vec<&'static str>> {
    let Some(asked) = asked else {
        return Ok(COLUMNS.to_vec());
    };
    let mut out = Vec::new();
    for name in asked.split(',').map(str::trim) {
        let known = COLUMNS.iter().find(|c| **c == name).ok_or_else(|| {
            Problem::bad_request(format!(
                "unknown column {name:?}: columns are {}",
                COLUMNS.join(", ")
            ))
        })?;
        if out.contains(known) {
            return Err(Problem::bad_request(format!(
                "column {name:?} is asked twice"
            )));
        }
        out.push(*known);
    }
    Ok(out)
}

/// One column of `rows`; instants as RFC 3339 UTC text.
fn column(name: &'static str, rows: &[PartnerBooking]) -> DownloadColumn {
    let int = |f: fn(&PartnerBooking) -> Option<i64>| Values::Int(rows.iter().map(f).collect());
    let text =
        |f: fn(&PartnerBooking) -> Option<String>| Values::Text(rows.iter().map(f).collect());
    let values = match name {
        "id" => int(|b| Some(b.id)),
        "token" => text(|b| Some(b.token.clone())),
        "status" => text(|b| Some(b.status.clone())),
        "offer_id" => int(|b| Some(b.offer_id)),
        "offer_title" => text(|b| Some(b.offer_title.clone())),
        "venue_id" => int(|b| b.venue_id),
        "venue_name" => text(|b| b.venue_name.clone()),
        "stock_id" => int(|b| Some(b.stock_id)),
        "beginning_at" => text(|b| b.beginning_at.map(rfc3339)),
        "quantity" => int(|b| Some(b.quantity)),
        "amount_cents" => int(|b| Some(b.amount_cents)),
        "user_id" => int(|b| Some(b.user_id)),
        "created_at" => text(|b| Some(rfc3339(b.created_at))),
        "used_at" => text(|b| b.used_at.map(rfc3339)),
        "cancelled_at" => text(|b| b.cancelled_at.map(rfc3339)),
        other => unreachable!("column {other} is checked against COLUMNS"),
    };
    (name.to_owned(), values)
}

#[derive(Deserialize, Clone, Copy, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Format {
    Csv,
    Xlsx,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    #[param(inline)]
    format: Format,
    columns: Option<String>,
    venue_id: Option<i64>,
    offer_id: Option<i64>,
    status: Option<String>,
}

/// The bookings as a file to download, newest first; more than [`MAX_EXPORT_ROWS`] is a
/// 422 `export_too_large` asking for a filter.
#[utoipa::path(
    get, path = "/v1/partner/bookings/export", tag = "partner",
    params(ExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM) or XLSX file"),
        SignedInProblems
    )
)]
async fn export(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Query(p): Query<ExportParams>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let chosen = columns(p.columns.as_deref())?;
    let filter = filter(&engine, offerer, p.venue_id, p.offer_id, p.status).await?;
    let rows = engine
        .store()
        .partner_bookings(offerer, &filter, MAX_EXPORT_ROWS as i64 + 1, 0)
        .await?;
    if rows.len() > MAX_EXPORT_ROWS {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "export_too_large",
            format!("more than {MAX_EXPORT_ROWS} bookings: filter by venue_id, offer_id or status"),
        ));
    }
    let format = p.format;
    // Writing a workbook is CPU work: keep it off the request threads.
    let bytes = tokio::task::spawn_blocking(move || {
        let cols = chosen.iter().map(|&c| column(c, &rows)).collect();
        match format {
            Format::Csv => download::csv_bytes(cols),
            Format::Xlsx => download::xlsx_bytes("bookings", cols),
        }
    })
    .await
    .map_err(|e| internal(&e))?
    .map_err(|e| internal(&e))?;
    let (content_type, file) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "bookings.csv"),
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "bookings.xlsx",
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    ))
}

fn internal(e: &dyn std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "writing a bookings export failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred",
    )
}
