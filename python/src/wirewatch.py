"""wirewatch: the Pythonic view of the controller's data, beside ntop's modules.

    import wirewatch
    for h in wirewatch.hosts(site="lab", sort="bytes", limit=10):
        print(h.ip, h.names, h.bytes_sent, h.geo and h.geo["country_code"])

Everything a script reads comes from one consistent snapshot of the database (taken at its
first read) and is limited to the sites the signed-in user may see.
"""

import _wirewatch
from _wirewatch import Forbidden

__all__ = [
    "Forbidden", "Host", "Interface", "Probe", "Site", "request", "params", "interfaces",
    "probes", "sites", "hosts", "host", "get_preference", "set_preference", "preferences",
    "csp_nonce", "geo_attribution", "raise_alarm", "alarms",
]


def request():
    """The request: dict with method, path, query_string, params, user, role, sites, id."""
    return _wirewatch.request()


def csp_nonce():
    """This response's Content-Security-Policy nonce: the page's own scripts run only as
    `<script nonce="...">` with it (any other script, e.g. markup in a stored name, does not)."""
    return _wirewatch.request()["csp_nonce"]


def params():
    """The query-string and form parameters as a plain dict."""
    return _wirewatch.request()["params"]


def geo_attribution():
    """What a page must show with geolocation figures, as {"text", "url", "license"} (e.g.
    "IP geolocation by DB-IP", "https://db-ip.com", "CC BY 4.0"), or None (no GeoIP database,
    or one whose licence asks for nothing)."""
    return _wirewatch.geo_attribution()


class Host:
    """A host on one interface (ntop's host, as an object). Attributes: ip, mac, names, site,
    probe, interface, device, vlan, first_seen, last_seen (epoch seconds), pkts_sent,
    bytes_sent, pkts_rcvd, bytes_rcvd, protocols {tcp|udp|icmp|other: (pkts_sent, bytes_sent,
    pkts_rcvd, bytes_rcvd)}, syn_sent, tcp_sessions_active, tcp_sessions_total, udp_flows,
    peers_sent, peers_rcvd, thpt_sent/thpt_rcvd {actual, average, peak}, roles (names)."""

    __slots__ = ("_d", "_geo")

    def __init__(self, d):
        self._d = d
        self._geo = False

    def __getattr__(self, k):
        try:
            return self._d[k]
        except KeyError:
            raise AttributeError(k) from None

    @property
    def name(self):
        return self._d["names"][0] if self._d["names"] else self._d["ip"]

    @property
    def bytes(self):
        return self._d["bytes_sent"] + self._d["bytes_rcvd"]

    @property
    def packets(self):
        return self._d["pkts_sent"] + self._d["pkts_rcvd"]

    @property
    def geo(self):
        """{country_code, country_name, region, city, latitude, longitude} or None."""
        if self._geo is False:
            self._geo = _wirewatch.geo(self._d["ip"])
        return self._geo

    def history(self, resolution="hourly", start=0.0, end=4102444800.0, limit=10000):
        """[(ts, pkts_sent, bytes_sent, pkts_rcvd, bytes_rcvd)], oldest first."""
        return _wirewatch.host_history(self._device(), self._d["ip"], resolution, start, end, limit)

    def detail(self):
        """This host with its per-service traffic (`services`)."""
        return _wirewatch.host_detail(self._d["ip"], self._device())

    def _device(self):
        if self._d.get("device") is not None:
            return self._d["device"]
        for i in interfaces():
            if i.id == self._d["interface_id"]:
                return i.index
        raise LookupError("interface of host %s not visible" % self._d["ip"])

    def as_dict(self):
        return dict(self._d)

    def __repr__(self):
        return "<Host %s on %s/%s/%s>" % (self._d["ip"], self._d["site"], self._d["probe"], self._d["interface"])


class Interface:
    """A probe's interface (ntop's device). Attributes: index (ntop's device id), id, name,
    probe, site, link_type, live, packets, bytes, hosts, first_seen, last_seen."""

    __slots__ = ("_d",)

    def __init__(self, d):
        self._d = d

    def __getattr__(self, k):
        try:
            return self._d[k]
        except KeyError:
            raise AttributeError(k) from None

    def hosts(self, **filters):
        return hosts(device=self.index, **filters)

    def history(self, resolution="hourly", start=0.0, end=4102444800.0, limit=10000):
        """[(ts, packets, bytes, drops)], oldest first."""
        return _wirewatch.interface_history(self.index, resolution, start, end, limit)

    def host(self, ip):
        d = _wirewatch.host_detail(ip, self.index)
        return Host(d) if d is not None else None

    def __repr__(self):
        return "<Interface %s on %s/%s>" % (self._d["name"], self._d["site"], self._d["probe"])


class Probe:
    def __init__(self, name, site, interfaces):
        self.name, self.site, self.interfaces = name, site, interfaces

    def hosts(self, **filters):
        return hosts(probe=self.name, **filters)

    def __repr__(self):
        return "<Probe %s (%s)>" % (self.name, self.site)


class Site:
    def __init__(self, name, probes):
        self.name, self.probes = name, probes

    def hosts(self, **filters):
        return hosts(site=self.name, **filters)

    def __repr__(self):
        return "<Site %s>" % self.name


def interfaces():
    return [Interface(d) for d in _wirewatch.devices()]


def probes():
    out = {}
    for i in interfaces():
        p = out.setdefault(i.probe, Probe(i.probe, i.site, []))
        p.interfaces.append(i)
    return list(out.values())


def sites():
    out = {}
    for p in probes():
        out.setdefault(p.site, Site(p.site, [])).probes.append(p)
    return list(out.values())


def hosts(device=None, site=None, probe=None, cidr=None, search=None, sort="bytes",
          descending=True, limit=None, where=None, page=5000):
    """Iterates hosts, largest first by default. Filters: device (interface index), site,
    probe, cidr ("10.0.0.0/8"), search (address or MAC prefix, or part of a name), `where`
    (a predicate on Host). sort: bytes, packets, sent_bytes, rcvd_bytes, sent_packets,
    rcvd_packets, first_seen, last_seen, ip, name."""
    after = None
    n = 0
    while True:
        rows, after = _wirewatch.hosts(device, site, probe, cidr, search, sort, descending, after, page)
        for d in rows:
            h = Host(d)
            if where is not None and not where(h):
                continue
            yield h
            n += 1
            if limit is not None and n >= limit:
                return
        if after is None:
            return


def host(ip, device=None):
    """The host with this address on `device` (or the first interface that has it), or None."""
    devs = [device] if device is not None else [i.index for i in interfaces()]
    for d in devs:
        found = _wirewatch.host_detail(ip, d)
        if found is not None:
            return Host(found)
    return None


def get_preference(key, default=None, site=None):
    """A preference: the global one for a user who sees every site, else from the user's own
    sites (first in name order); `site=` reads one site's namespace."""
    v = _wirewatch.getPreference(key, None, site)
    return default if v is None else v


def set_preference(key, value, site=None):
    """Sets a preference (operator role): global for a user who sees every site, else the
    user's only site; `site=` names one of the user's sites."""
    _wirewatch.setPreference(key, value, site)


def preferences(site=None):
    return dict(_wirewatch.preferences(site))


def raise_alarm(name, severity, message, subject=""):
    """Records an alarm event (severity: info, warning, error or critical) and starts the
    actions the controller's `[[alarms.route]]` settings give alarms of this name; returns the
    event's ID. Allowed in scheduled runs (scripts under alarms/ and reports/) and for
    operators and admins."""
    return _wirewatch.raise_alarm(name, severity, message, subject)


class alarms:
    """rrdAlarm and the alarm events, read-only:

        for e in wirewatch.alarms.events(state="open"):
            print(e["raised_at"], e["severity"], e["message"])
    """

    @staticmethod
    def events(state="all", severity=None, limit=100):
        """Events the user may see, newest first (state: all, open or acked)."""
        return _wirewatch.alarm_events(state, severity, limit)

    @staticmethod
    def thresholds():
        """The thresholds in ntop's order, each a dict of its ten fields (every site's users)."""
        return _wirewatch.alarm_thresholds()

    @staticmethod
    def replace(rows):
        """Replaces every threshold (operators of every site), all or nothing: a list of dicts
        of the ten fields (id, rrd_path, type, value, repetitions, start, end, action,
        action_parameter, rearm_secs), validated as the API does (ValueError naming the row
        and field). Returns (thresholds, unchanged, re-arm states dropped)."""
        return _wirewatch.alarm_replace(rows)

    @staticmethod
    def check():
        """Runs the check now (operators of every site): the report as a dict (rows,
        unmatched, actions, ...); the actions start and are reported pending."""
        return _wirewatch.alarm_check()

    @staticmethod
    def actions():
        """The action names a threshold may use here ("None" first)."""
        return _wirewatch.alarm_actions()

    @staticmethod
    def files(prefix="", limit=1000):
        """Archive files (relative paths) starting with prefix, for autocompletion."""
        return _wirewatch.alarm_files(prefix, limit)

    @staticmethod
    def runs(limit=20):
        """The last checks, newest first: started_at, duration_ms, thresholds, files_checked,
        alarms_fired, controller (every site's users)."""
        return _wirewatch.alarm_runs(limit)
