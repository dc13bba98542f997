//! GeoIP: city-level lookups in a MaxMind-format database (GeoIP2/GeoLite2 City, DB-IP City
//! Lite, or any mmdb with the same fields). Optional: without a database every host is in an
//! unknown country.

use std::net::IpAddr;
use std::path::Path;

/// Where an address is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    /// ISO 3166-1 alpha-2 code.
    pub country_code: Option<String>,
    pub country: Option<String>,
    /// First-level subdivision (state, region).
    pub region: Option<String>,
    pub city: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// An open database.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
    pub path: String,
}

#[derive(Debug, thiserror::Error)]
#[error("GeoIP database {path}: {source}")]
pub struct GeoError {
    path: String,
    source: maxminddb::MaxMindDbError,
}

impl Geo {
    pub fn open(path: &Path) -> Result<Geo, GeoError> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|source| GeoError { path: path.display().to_string(), source })?;
        Ok(Geo { reader, path: path.display().to_string() })
    }

    /// The place of an address; `None` when the database does not know it (private ranges,
    /// unallocated space) or the record cannot be read.
    pub fn lookup(&self, ip: IpAddr) -> Option<Place> {
        let result = self.reader.lookup(ip).ok()?;
        let city: maxminddb::geoip2::City = result.decode().ok()??;
        let place = Place {
            country_code: city.country.iso_code.map(str::to_string),
            country: city.country.names.english.map(str::to_string),
            region: city.subdivisions.first().and_then(|s| s.names.english).map(str::to_string),
            city: city.city.names.english.map(str::to_string),
            latitude: city.location.latitude,
            longitude: city.location.longitude,
        };
        (place.country_code.is_some() || place.city.is_some()).then_some(place)
    }
}
