//! MAC addresses: text (`aa:bb:cc:dd:ee:ff`, PostgreSQL's `macaddr` output), parsing, and the
//! NIC vendor from the embedded IEEE registry.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address such as 00:1b:21:3a:4f:5c")]
pub struct BadMac(pub String);

impl FromStr for Mac {
    type Err = BadMac;
    fn from_str(s: &str) -> Result<Mac, BadMac> {
        let mut m = [0u8; 6];
        let mut n = 0;
        for (i, part) in s.split(':').enumerate() {
            let slot = m.get_mut(i).ok_or_else(|| BadMac(s.to_string()))?;
            if part.len() != 2 {
                return Err(BadMac(s.to_string()));
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| BadMac(s.to_string()))?;
            n += 1;
        }
        if n == 6 { Ok(Mac(m)) } else { Err(BadMac(s.to_string())) }
    }
}

impl Mac {
    /// The vendor registered for the address's OUI; none for locally administered and group
    /// addresses.
    pub fn vendor(&self) -> Option<String> {
        let m = &self.0;
        if m[0] & 0x03 != 0 {
            return None;
        }
        let hex = format!("{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}", m[0], m[1], m[2], m[3], m[4], m[5]);
        oui_data::lookup(&hex).map(|d| d.organization().to_string())
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(m: &[u8; 6]) -> String {
    Mac(*m).to_string()
}

/// The vendor of a MAC (see [`Mac::vendor`]).
pub fn vendor(m: &[u8; 6]) -> Option<String> {
    Mac(*m).vendor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_bad_text_is_refused() {
        let m: Mac = "00:1b:21:3a:4f:5c".parse().expect("mac");
        assert_eq!(m.to_string(), "00:1b:21:3a:4f:5c");
        for bad in ["", "00:1b:21:3a:4f", "00:1b:21:3a:4f:5c:00", "0:1b:21:3a:4f:5c", "zz:1b:21:3a:4f:5c"] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
        assert_eq!(Mac([0x02, 0, 0, 0, 0, 1]).vendor(), None);
        assert!(Mac([0x00, 0x1b, 0x21, 0, 0, 1]).vendor().is_some());
    }
}
