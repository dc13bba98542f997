//! Role flags, as bits of a host's `roles` (names follow ntop's `host.is*` functions), and
//! ntop's workstation rule, so the probe's report, the API, the Python `host` module and the
//! CLI name the same roles.

pub const SERVER: u32 = 1 << 0;
pub const HTTP_SERVER: u32 = 1 << 1;
pub const SMTP_SERVER: u32 = 1 << 2;
pub const DNS_SERVER: u32 = 1 << 3;
pub const NTP_SERVER: u32 = 1 << 4;
pub const DHCP_SERVER: u32 = 1 << 5;
pub const DHCP_CLIENT: u32 = 1 << 6;
pub const FTP_SERVER: u32 = 1 << 7;
pub const POP_SERVER: u32 = 1 << 8;
pub const IMAP_SERVER: u32 = 1 << 9;
pub const DIRECTORY_SERVER: u32 = 1 << 10;
pub const WINS_SERVER: u32 = 1 << 11;
pub const VOIP_GATEWAY: u32 = 1 << 12;
pub const VOIP_CLIENT: u32 = 1 << 13;
pub const PRINTER: u32 = 1 << 14;
pub const WORKSTATION: u32 = 1 << 15;
pub const MULTIVLANED: u32 = 1 << 16;

/// (flag, name) for reports; names are ntop's function names without `is`.
pub const NAMES: [(u32, &str); 17] = [
    (SERVER, "server"),
    (HTTP_SERVER, "http_host"),
    (SMTP_SERVER, "smtp_host"),
    (DNS_SERVER, "dns_server"),
    (NTP_SERVER, "ntp_server"),
    (DHCP_SERVER, "dhcp_server"),
    (DHCP_CLIENT, "dhcp_client"),
    (FTP_SERVER, "ftp_host"),
    (POP_SERVER, "pop_host"),
    (IMAP_SERVER, "imap_host"),
    (DIRECTORY_SERVER, "directory_host"),
    (WINS_SERVER, "wins_host"),
    (VOIP_GATEWAY, "voip_gateway"),
    (VOIP_CLIENT, "voip_client"),
    (PRINTER, "printer"),
    (WORKSTATION, "workstation"),
    (MULTIVLANED, "multivlaned"),
];

/// The roles a host has: its bits, plus [`WORKSTATION`] by ntop's rule — it opens TCP sessions
/// (`syn_sent > 0`) and serves nothing.
pub fn effective(bits: u32, syn_sent: u64) -> u32 {
    if bits & SERVER == 0 && syn_sent > 0 { bits | WORKSTATION } else { bits }
}

/// The names of a host's roles in [`NAMES`] order, the workstation rule's last (as the probe's
/// report has always listed them).
pub fn names(bits: u32, syn_sent: u64) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = NAMES.iter().filter(|(f, _)| bits & f != 0).map(|(_, n)| *n).collect();
    if effective(bits, syn_sent) & !bits & WORKSTATION != 0 {
        out.push("workstation");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_that_opens_sessions_and_serves_nothing_is_a_workstation() {
        assert_eq!(names(DHCP_CLIENT, 3), vec!["dhcp_client", "workstation"]);
        assert_eq!(names(SERVER | HTTP_SERVER, 3), vec!["server", "http_host"]);
        assert_eq!(names(0, 0), Vec::<&str>::new());
        assert_eq!(effective(0, 1), WORKSTATION);
    }
}
