//! Hosts per country and per city of a country (GeoIP; the region map's data). It must not
//! use the other resource modules.

use std::collections::BTreeMap;

use axum::extract::State;

use super::extract::{Json, Query, S};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Errors};
use crate::model::*;
use wirewatch_model::geo::Place;

/// Hosts per country (the region map's data).
#[utoipa::path(get, path = "/api/v1/geo/countries", tag = "geo", params(GeoParams),
    responses((status = 200, body = CountryCounts), Errors))]
pub(super) async fn geo_countries(
    State(st): S,
    p: Principal,
    Query(q): Query<GeoParams>,
) -> ApiResult<Json<CountryCounts>> {
    let addrs = st.store.host_addresses(p.allowed(), q.site.as_deref(), q.probe.as_deref()).await?;
    let mut counts: BTreeMap<String, (Option<String>, i64)> = BTreeMap::new();
    let mut unknown = 0;
    for a in &addrs {
        match a.parse().ok().and_then(|ip| st.geo.as_ref().and_then(|g| g.lookup(ip))) {
            Some(Place { country_code: Some(code), country, .. }) => {
                let e = counts.entry(code).or_insert((country, 0));
                e.1 += 1;
            }
            _ => unknown += 1,
        }
    }
    let mut countries: Vec<CountryCount> =
        counts.into_iter().map(|(code, (name, hosts))| CountryCount { code, name, hosts }).collect();
    countries.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.code.cmp(&b.code)));
    Ok(Json(CountryCounts {
        geoip: st.geo.is_some(),
        attribution: st.geo.as_ref().and_then(|g| g.attribution.clone()),
        hosts_considered: addrs.len() as i64,
        hosts_unknown: unknown,
        countries,
    }))
}

/// Hosts per city of one country.
#[utoipa::path(get, path = "/api/v1/geo/cities", tag = "geo", params(CityParams),
    responses((status = 200, body = CityCounts), Errors))]
pub(super) async fn geo_cities(State(st): S, p: Principal, Query(q): Query<CityParams>) -> ApiResult<Json<CityCounts>> {
    let country = q.country.to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ApiError::bad_request("country must be an ISO 3166-1 alpha-2 code such as IT"));
    }
    let addrs = st.store.host_addresses(p.allowed(), q.site.as_deref(), q.probe.as_deref()).await?;
    let mut cities: BTreeMap<String, (Option<f64>, Option<f64>, i64)> = BTreeMap::new();
    let (mut considered, mut unknown) = (0, 0);
    for a in &addrs {
        let Some(place) = a.parse().ok().and_then(|ip| st.geo.as_ref().and_then(|g| g.lookup(ip))) else { continue };
        if place.country_code.as_deref() != Some(country.as_str()) {
            continue;
        }
        considered += 1;
        match place.city {
            Some(c) => cities.entry(c).or_insert((place.latitude, place.longitude, 0)).2 += 1,
            None => unknown += 1,
        }
    }
    let mut cities: Vec<CityCount> = cities
        .into_iter()
        .map(|(name, (latitude, longitude, hosts))| CityCount { name, latitude, longitude, hosts })
        .collect();
    cities.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.name.cmp(&b.name)));
    Ok(Json(CityCounts {
        geoip: st.geo.is_some(),
        attribution: st.geo.as_ref().and_then(|g| g.attribution.clone()),
        country,
        hosts_considered: considered,
        hosts_unknown: unknown,
        cities,
    }))
}
