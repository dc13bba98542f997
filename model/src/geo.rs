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

/// Whom a database's data must be credited to wherever it is shown (its licence asks for it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attribution {
    /// The sentence to show, e.g. "IP geolocation by DB-IP".
    pub text: String,
    /// The provider's site, to link the text to.
    pub url: String,
    /// The data's licence.
    pub license: String,
}

impl Attribution {
    /// The attribution a database's metadata calls for: DB-IP's Lite databases (CC BY 4.0)
    /// and MaxMind's GeoLite2 (its EULA's notice), told by their `database_type` or
    /// description; `None` for others (a database of one's own).
    pub fn of(database_type: &str, descriptions: &[&str]) -> Option<Attribution> {
        let said = |needle: &str| {
            database_type.to_ascii_lowercase().contains(needle)
                || descriptions.iter().any(|d| d.to_ascii_lowercase().contains(needle))
        };
        if said("dbip") || said("db-ip") {
            Some(Attribution {
                text: "IP geolocation by DB-IP".into(),
                url: "https://db-ip.com".into(),
                license: "CC BY 4.0".into(),
            })
        } else if said("geolite") {
            Some(Attribution {
                text: "This product includes GeoLite2 data created by MaxMind".into(),
                url: "https://www.maxmind.com".into(),
                license: "GeoLite2 End User License Agreement".into(),
            })
        } else {
            None
        }
    }
}

/// An open database.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
    pub path: String,
    /// What must be shown with its data (from its metadata).
    pub attribution: Option<Attribution>,
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
        let m = reader.metadata();
        let descriptions: Vec<&str> = m.description.values().map(String::as_str).collect();
        let attribution = Attribution::of(&m.database_type, &descriptions);
        Ok(Geo { reader, path: path.display().to_string(), attribution })
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

#[cfg(test)]
mod tests {
    use super::Attribution;

    #[test]
    fn db_ip_and_geolite_databases_are_credited_and_others_are_not() {
        let dbip = Attribution::of("DBIP-City-Lite", &["DB-IP.com - IP to City"]).expect("DB-IP");
        assert_eq!(
            (dbip.text.as_str(), dbip.url.as_str(), dbip.license.as_str()),
            ("IP geolocation by DB-IP", "https://db-ip.com", "CC BY 4.0")
        );
        assert_eq!(Attribution::of("GeoIP2-City", &["DB-IP.com - IP vers Ville"]), Some(dbip));
        assert!(Attribution::of("GeoLite2-City", &[]).is_some_and(|a| a.text.contains("MaxMind")));
        assert_eq!(Attribution::of("GeoIP2-City", &["wirewatch test"]), None);
    }
}
