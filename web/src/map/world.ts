// The world's countries as SVG paths (Natural Earth 1:110m through world-atlas, projected with
// d3-geo), keyed by ISO 3166-1 alpha-2 code. Loaded on demand (a chunk of its own, ~45 KB
// compressed): only the region map needs it. Countries too small for 1:110m (Singapore,
// Malta, …) have no shape; the map's table still lists them.

import { geoNaturalEarth1, geoPath, geoBounds } from 'd3-geo';
import type { GeoPermissibleObjects } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import atlas from 'world-atlas/countries-110m.json';
import codes from 'i18n-iso-countries/codes.json';

export interface Shape {
  /** Upper-case alpha-2 code ("" for the few shapes without an ISO code). */
  code: string;
  name: string;
  d: string;
}

export interface World {
  width: number;
  height: number;
  shapes: Shape[];
  /** A projection fitted to one country (its shape and a margin), for its cities. */
  zoom(code: string, width: number, height: number): Zoomed | null;
}

export interface Zoomed {
  shape: string;
  /** [x, y] of a longitude/latitude, or null outside the projection. */
  point(lon: number, lat: number): [number, number] | null;
}

type Props = { name?: string };

const numericToAlpha2 = new Map<string, string>((codes as string[][]).map((c) => [c[2] ?? '', c[0] ?? '']));

let cached: World | null = null;

export function world(): World {
  if (cached) return cached;
  const topo = atlas as unknown as Topology<{ countries: GeometryCollection<Props> }>;
  const countries = feature(topo, topo.objects.countries);
  const width = 960;
  const height = 500;
  // Antarctica is left out: it takes a fifth of the height and has no hosts.
  const features = countries.features.filter((f) => f.id !== '010');
  const projection = geoNaturalEarth1().fitSize([width, height], { type: 'FeatureCollection', features });
  const path = geoPath(projection);
  const byCode = new Map<string, GeoPermissibleObjects>();
  const shapes: Shape[] = [];
  for (const f of features) {
    const code = numericToAlpha2.get(String(f.id ?? '')) ?? '';
    const d = path(f);
    if (!d) continue;
    if (code) byCode.set(code, f);
    shapes.push({ code, name: f.properties?.name ?? code, d });
  }
  cached = {
    width,
    height,
    shapes,
    zoom(code, w, h) {
      const f = byCode.get(code.toUpperCase());
      if (!f) return null;
      // Countries spanning the antimeridian (Russia, Fiji, the US with Alaska) fit badly in a
      // plain bounding box; their bounds are taken as d3 gives them and the margin absorbs it.
      const [[x0], [x1]] = geoBounds(f);
      const p = geoNaturalEarth1();
      if (x1 < x0) p.rotate([-(x0 + (x1 + 360 - x0) / 2), 0]);
      p.fitExtent(
        [
          [10, 10],
          [w - 10, h - 10],
        ],
        f,
      );
      const shape = geoPath(p)(f) ?? '';
      return {
        shape,
        point(lon, lat) {
          const xy = p([lon, lat]);
          return xy ? [xy[0], xy[1]] : null;
        },
      };
    },
  };
  return cached;
}
