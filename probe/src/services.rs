//! Port-based service classification and the host role flags of ntop's `host` API.
//!
//! A fixed 64 Ki-entry table maps a TCP/UDP port to a [`Service`]; a packet's service is the
//! one of its lower known port (the well-known side). Roles are set from what a host *sends*:
//! sending from a service's port makes it a server of that service (as ntop's isHTTPhost,
//! isSMTPhost, isNtpServer, … did).

use std::sync::LazyLock;

pub use wirewatch_model::roles;
pub use wirewatch_model::service::Service;

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
