//! Capture sources: capture files (our own reader, `file.rs`) and live interfaces (libpcap,
//! `live.rs`). This is the only module that touches libpcap. It yields raw frames with their
//! link type; it never decodes them (that is `decode`).

pub mod file;
pub mod live;

use std::fmt;

/// A LINKTYPE_/DLT_ value, as stored in a capture file or reported by libpcap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    pub const RAW_DLT: LinkType = LinkType(12);
    pub const RAW_DLT_OPENBSD: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const C_HDLC: LinkType = LinkType(104);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IEEE802_11_RADIOTAP: LinkType = LinkType(127);
    pub const PPI: LinkType = LinkType(192);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const NFLOG: LinkType = LinkType(239);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The libpcap name of the link type (`pcap_datalink_val_to_name`), or `LINKTYPE_<n>`.
    pub fn name(self) -> String {
        let n = match self.0 {
            0 => "NULL",
            1 => "EN10MB",
            9 => "PPP",
            12 | 14 | 101 => "RAW",
            50 => "PPP_SERIAL",
            104 => "C_HDLC",
            105 => "IEEE802_11",
            108 => "LOOP",
            113 => "LINUX_SLL",
            127 => "IEEE802_11_RADIO",
            192 => "PPI",
            228 => "IPV4",
            229 => "IPV6",
            239 => "NFLOG",
            276 => "LINUX_SLL2",
            other => return format!("LINKTYPE_{other}"),
        };
        n.to_string()
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}
