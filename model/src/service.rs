//! The services a host's traffic is split by (port-based, as the probe classifies it), with
//! the names reports, the store and the API use, and the role a server of each earns.

use crate::roles;

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
