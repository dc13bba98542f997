# Host Region Map (ntop's GeoPacketVisualizer): hosts counted by country, and by city of a
# chosen country (?country=IT), on a world map drawn in the page from offline vector data
# (the pygal_maps_world package's world SVG; no tile server), with the two tables and the
# geolocation summary. Walks every host of every interface the user may see with ntop's
# cursor and host.geoIP(); an address seen on several interfaces counts once.
import importlib.util
import math
import os
import re

import jinja2

import host
import interface
import ntop
import wirewatch


def world_svg():
    spec = importlib.util.find_spec("pygal_maps_world")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "worldmap.svg")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        svg = f.read()
    # Fill the page's width; keep the map's own viewBox.
    return re.sub(r"<svg ", '<svg id="worldmap" width="100%" ', svg, count=1)


chosen = wirewatch.params().get("country", "").strip().upper()
if chosen and not re.fullmatch(r"[A-Z]{2}", chosen):
    raise ValueError("country must be an ISO 3166-1 alpha-2 code such as IT")

seen = set()
countries = {}  # code -> [name, hosts]
cities = {}  # city -> [hosts, lat, lon]
unknown = 0
for dev in range(interface.numInterfaces()):
    ok = ntop.getFirstHost(dev)
    while ok:
        ip = host.ipAddress()
        if ip not in seen:
            seen.add(ip)
            g = host.geoIP()
            code = g.get("country_code", "")
            if not code:
                unknown += 1
            else:
                c = countries.setdefault(code, [g.get("country_name") or code, 0])
                c[1] += 1
                if code == chosen:
                    name = g.get("city") or "(unknown city)"
                    e = cities.setdefault(name, [0, g.get("latitude"), g.get("longitude")])
                    e[0] += 1
        ok = ntop.getNextHost(dev)

country_rows = sorted(((n, h, c) for c, (n, h) in countries.items()), key=lambda r: (-r[1], r[2]))
city_rows = sorted(((n, v[0], v[1], v[2]) for n, v in cities.items()), key=lambda r: (-r[1], r[0]))
top = max((r[1] for r in country_rows), default=0)


def shade(n):
    # Light to dark blue on a log scale of the host count.
    t = math.log1p(n) / math.log1p(top) if top else 0
    light, dark = (198, 219, 239), (8, 48, 107)
    return "#%02x%02x%02x" % tuple(round(a + (b - a) * t) for a, b in zip(light, dark))


# City positions: equirectangular over the cities' own bounding box (an approximate zoom).
points = []
located = [r for r in city_rows if r[2] is not None and r[3] is not None and (r[2] or r[3])]
if located:
    lats = [r[2] for r in located]
    lons = [r[3] for r in located]
    lat0, lat1 = min(lats) - 1, max(lats) + 1
    lon0, lon1 = min(lons) - 1, max(lons) + 1
    big = max(r[1] for r in located)
    for name, n, lat, lon in located:
        points.append({
            "name": name, "hosts": n,
            "x": 20 + 560 * (lon - lon0) / (lon1 - lon0),
            "y": 20 + 360 * (lat1 - lat) / (lat1 - lat0),
            "r": 4 + 12 * math.sqrt(n / big),
        })

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
    autoescape=True,
)
page = env.get_template("region_map.html").render(
    svg=world_svg(),
    countries=country_rows,
    fills=[(c.lower(), shade(h)) for _, h, c in country_rows],
    chosen=chosen,
    chosen_name=countries.get(chosen, [chosen])[0] if chosen else "",
    cities=city_rows,
    points=points,
    considered=len(seen),
    unknown=unknown,
    nonce=wirewatch.csp_nonce(),
    attribution=wirewatch.geo_attribution(),
)
ntop.printHTMLHeader("Host Region Map", 1, 0)
ntop.sendString(page)
ntop.printHTMLFooter()
