//! Port-based service classification and the host role flags of ntop's `host` API.
//!
//! A fixed 64 Ki-entry table maps a TCP/UDP port to a [`Service`]; a packet's service is the
//! one of its lower known port (the well-known side). Roles are set from what a host *sends*:
//! sending from a service's port makes it a server of that service (as ntop's isHTTPhost,
//! isSMTPhost, isNtpServer, … did).

use std::sync::LazyLock;

/// Services the probe splits traffic by. `Other` (0) is everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Service {
    Other = 0,
    Http,
    Https,
    Dns,
    Ssh,
    Smtp,
    Ntp,
    Dhcp,
    Ftp,
    Pop,
    Imap,
    Ldap,
    Netbios,
    Smb,
    Snmp,
    Sip,
    Telnet,
    Rdp,
    Mysql,
    Postgres,
    Mdns,
    Ssdp,
    Syslog,
    Bgp,
}

impl Service {
    pub const ALL: [Service; 24] = [
        Service::Other,
        Service::Http,
        Service::Https,
        Service::Dns,
        Service::Ssh,
        Service::Smtp,
        Service::Ntp,
        Service::Dhcp,
        Service::Ftp,
        Service::Pop,
        Service::Imap,
        Service::Ldap,
        Service::Netbios,
        Service::Smb,
        Service::Snmp,
        Service::Sip,
        Service::Telnet,
        Service::Rdp,
        Service::Mysql,
        Service::Postgres,
        Service::Mdns,
        Service::Ssdp,
        Service::Syslog,
        Service::Bgp,
    ];

    pub fn from_u8(v: u8) -> Service {
        Service::ALL.get(usize::from(v)).copied().unwrap_or(Service::Other)
    }

    /// The service a [`Service::name`] names.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Other => "other",
            Service::Http => "http",
            Service::Https => "https",
            Service::Dns => "dns",
            Service::Ssh => "ssh",
            Service::Smtp => "smtp",
            Service::Ntp => "ntp",
            Service::Dhcp => "dhcp",
            Service::Ftp => "ftp",
            Service::Pop => "pop",
            Service::Imap => "imap",
            Service::Ldap => "ldap",
            Service::Netbios => "netbios",
            Service::Smb => "smb",
            Service::Snmp => "snmp",
            Service::Sip => "sip",
            Service::Telnet => "telnet",
            Service::Rdp => "rdp",
            Service::Mysql => "mysql",
            Service::Postgres => "postgres",
            Service::Mdns => "mdns",
            Service::Ssdp => "ssdp",
            Service::Syslog => "syslog",
            Service::Bgp => "bgp",
        }
    }

    /// The role flag a host earns by sending from this service's port.
    pub fn server_role(self) -> u32 {
        match self {
            Service::Http | Service::Https => roles::HTTP_SERVER,
            Service::Smtp => roles::SMTP_SERVER,
            Service::Dns => roles::DNS_SERVER,
            Service::Ntp => roles::NTP_SERVER,
            Service::Dhcp => roles::DHCP_SERVER,
            Service::Ftp => roles::FTP_SERVER,
            Service::Pop => roles::POP_SERVER,
            Service::Imap => roles::IMAP_SERVER,
            Service::Ldap => roles::DIRECTORY_SERVER,
            Service::Netbios | Service::Smb => roles::WINS_SERVER,
            Service::Sip => roles::VOIP_GATEWAY,
            Service::Ssh | Service::Telnet | Service::Rdp | Service::Mysql | Service::Postgres => roles::SERVER,
            Service::Other | Service::Snmp | Service::Mdns | Service::Ssdp | Service::Syslog | Service::Bgp => 0,
        }
    }
}

/// Role flags, as bits of `Host::roles` (names follow ntop's `host.is*` functions).
pub mod roles {
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
}

static PORTS: LazyLock<Box<[u8; 65536]>> = LazyLock::new(|| {
    let mut t = Box::new([0u8; 65536]);
    let map: &[(Service, &[u16])] = &[
        (Service::Http, &[80, 8000, 8008, 8080, 3128]),
        (Service::Https, &[443, 8443]),
        (Service::Dns, &[53]),
        (Service::Ssh, &[22]),
        (Service::Smtp, &[25, 465, 587]),
        (Service::Ntp, &[123]),
        (Service::Dhcp, &[67, 68, 546, 547]),
        (Service::Ftp, &[20, 21]),
        (Service::Pop, &[110, 995]),
        (Service::Imap, &[143, 993]),
        (Service::Ldap, &[389, 636]),
        (Service::Netbios, &[137, 138, 139]),
        (Service::Smb, &[445]),
        (Service::Snmp, &[161, 162]),
        (Service::Sip, &[5060, 5061]),
        (Service::Telnet, &[23]),
        (Service::Rdp, &[3389]),
        (Service::Mysql, &[3306]),
        (Service::Postgres, &[5432]),
        (Service::Mdns, &[5353]),
        (Service::Ssdp, &[1900]),
        (Service::Syslog, &[514]),
        (Service::Bgp, &[179]),
    ];
    for (svc, ports) in map {
        for p in *ports {
            t[usize::from(*p)] = *svc as u8;
        }
    }
    t
});

/// The service of a port, `Other` when unknown.
#[inline]
pub fn of_port(port: u16) -> Service {
    Service::from_u8(PORTS[usize::from(port)])
}

/// The service of a packet: its lower known port wins.
#[inline]
pub fn classify(sport: u16, dport: u16) -> Service {
    let (lo, hi) = if sport <= dport { (sport, dport) } else { (dport, sport) };
    let s = PORTS[usize::from(lo)];
    Service::from_u8(if s != 0 { s } else { PORTS[usize::from(hi)] })
}

/// The role flags earned by the sender of a packet (protocol 6 or 17) with these ports.
#[inline]
pub fn sender_roles(proto: u8, sport: u16, dport: u16) -> u32 {
    match (proto, sport, dport) {
        (17, 68, 67) | (17, 546, 547) => roles::DHCP_CLIENT,
        (17, 67, _) | (17, 547, _) => roles::DHCP_SERVER | roles::SERVER,
        (17, 5060, p) if p != 5060 => roles::VOIP_GATEWAY | roles::SERVER,
        (_, s, 5060) if s != 5060 => roles::VOIP_CLIENT,
        (6, 515 | 631 | 9100, _) => roles::PRINTER | roles::SERVER,
        _ => {
            let svc = of_port(sport);
            // Traffic between two copies of the same well-known port (NTP peers, BGP) still
            // shows the service; a lower well-known destination means the sender is a client.
            if svc == Service::Other || (of_port(dport) != Service::Other && dport < sport) {
                return 0;
            }
            let r = svc.server_role();
            if r == 0 { 0 } else { r | roles::SERVER }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(51000, 443), Service::Https);
        assert_eq!(classify(53, 5353), Service::Dns);
        assert_eq!(classify(40000, 40001), Service::Other);
        assert_eq!(sender_roles(6, 80, 51000), roles::HTTP_SERVER | roles::SERVER);
        assert_eq!(sender_roles(6, 51000, 80), 0);
        assert_eq!(sender_roles(17, 68, 67), roles::DHCP_CLIENT);
        assert_eq!(sender_roles(17, 123, 123), roles::NTP_SERVER | roles::SERVER);
        for s in Service::ALL {
            assert_eq!(Service::from_u8(s as u8), s);
        }
    }
}
