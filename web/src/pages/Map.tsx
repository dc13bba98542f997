// The region map: countries shaded by how many hosts they hold (the API's GeoIP counts),
// a country's cities drawn on it and listed. The world's shapes load on demand.

import { useEffect, useState } from 'preact/hooks';
import { ErrorMessage, Loading } from '../components/Message';
import { count, flag } from '../format';
import { useApi } from '../hooks';
import { withQuery, type Loc } from '../router';
import type { Attribution, CityCounts, CountryCounts } from '../types';
import type { World } from '../map/world';

/** Five shades, by the share of the busiest country (classes: the CSP allows no styles). */
function shade(hosts: number, max: number): number {
  if (hosts <= 0 || max <= 0) return 0;
  return Math.min(5, 1 + Math.floor((Math.log(hosts) / Math.log(Math.max(max, 2))) * 4.999));
}

function useWorld(): { world: World | null; error: unknown } {
  const [world, setWorld] = useState<World | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    import('../map/world').then(
      (m) => live && setWorld(m.world()),
      () => live && setError(new Error('The world map could not be loaded (the controller may have been updated: reload the page).')),
    );
    return () => {
      live = false;
    };
  }, []);
  return { world, error };
}

function Credit({ a }: { a: Attribution | null }) {
  return (
    <p class="attribution muted">
      {a ? (
        <>
          <a href={a.url} data-external="" rel="noopener noreferrer" target="_blank">
            {a.text}
          </a>{' '}
          ({a.license}) ·{' '}
        </>
      ) : null}
      Country shapes: Natural Earth (public domain)
    </p>
  );
}

function WorldMap({ world, geo, site, chosen }: { world: World; geo: CountryCounts; site?: string; chosen?: string }) {
  const byCode = new Map(geo.countries.map((c) => [c.code.toUpperCase(), c.hosts]));
  const max = Math.max(0, ...geo.countries.map((c) => c.hosts));
  return (
    <svg
      id="worldmap"
      class="worldmap"
      viewBox={`0 0 ${world.width} ${world.height}`}
      role="img"
      aria-label={`World map: ${geo.countries.length} countries with hosts`}
    >
      {world.shapes.map((s, i) => {
        const hosts = s.code ? (byCode.get(s.code) ?? 0) : 0;
        const cls = `country shade-${shade(hosts, max)}${chosen === s.code ? ' chosen' : ''}`;
        const title = `${s.name}: ${hosts === 1 ? '1 host' : `${count(hosts)} hosts`}`;
        return hosts > 0 ? (
          <a key={i} href={withQuery('/map', { site, country: s.code })} aria-label={title} data-country={s.code}>
            <path d={s.d} class={cls}>
              <title>{title}</title>
            </path>
          </a>
        ) : (
          <path key={i} d={s.d} class={cls} data-country={s.code || undefined}>
            <title>{title}</title>
          </path>
        );
      })}
    </svg>
  );
}

function Cities({ world, code, name, site }: { world: World | null; code: string; name: string; site?: string }) {
  const cities = useApi<CityCounts>(withQuery('/api/v1/geo/cities', { country: code, site }));
  if (cities.error) return <ErrorMessage error={cities.error} onRetry={cities.reload} />;
  if (!cities.data) return <Loading what={`the cities of ${code}`} />;
  const c = cities.data;
  const w = 480;
  const h = 360;
  const zoom = world?.zoom(code, w, h) ?? null;
  const max = Math.max(1, ...c.cities.map((x) => x.hosts));
  const located = c.cities.filter((x) => x.latitude !== null && x.longitude !== null);
  return (
    <section aria-labelledby="h-cities" class="cities">
      <h2 id="h-cities">
        <span aria-hidden="true">{flag(code)} </span>
        Cities of {name}
      </h2>
      <p class="summary">
        {count(c.hosts_considered)} hosts in {name}
        {c.hosts_unknown > 0 && `, ${count(c.hosts_unknown)} without a city`} ·{' '}
        <a href={withQuery('/map', { site })}>Back to the world</a>
      </p>
      <div class="regions">
        {zoom && (
          <svg id="cityplot" class="cityplot" viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`Map of ${code} with its cities`}>
            <path d={zoom.shape} class="country shade-1" />
            {located.map((x) => {
              const p = zoom.point(x.longitude ?? 0, x.latitude ?? 0);
              if (!p) return null;
              const r = 3 + 9 * Math.sqrt(x.hosts / max);
              return (
                <circle key={x.name} cx={p[0].toFixed(1)} cy={p[1].toFixed(1)} r={r.toFixed(1)} class="city">
                  <title>{`${x.name}: ${count(x.hosts)}`}</title>
                </circle>
              );
            })}
          </svg>
        )}
        <div class="table-wrap">
          <table id="cities">
            <thead>
              <tr>
                <th scope="col">City</th>
                <th scope="col" class="num">
                  Hosts
                </th>
              </tr>
            </thead>
            <tbody>
              {c.cities.map((x) => (
                <tr key={x.name} data-city={x.name}>
                  <th scope="row">{x.name}</th>
                  <td class="num">{count(x.hosts)}</td>
                </tr>
              ))}
              {c.hosts_unknown > 0 && (
                <tr data-city="">
                  <th scope="row" class="muted">
                    (unknown city)
                  </th>
                  <td class="num">{count(c.hosts_unknown)}</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}

export function MapPage({ loc }: { loc: Loc }) {
  const site = loc.query.get('site') || undefined;
  const raw = loc.query.get('country') ?? '';
  const chosen = /^[A-Za-z]{2}$/.test(raw) ? raw.toUpperCase() : undefined;
  const geo = useApi<CountryCounts>(withQuery('/api/v1/geo/countries', { site }));
  const { world, error } = useWorld();
  const names = new Map((geo.data?.countries ?? []).map((c) => [c.code.toUpperCase(), c.name ?? c.code]));
  return (
    <main id="main" tabIndex={-1}>
      <h1>Region map{site ? ` · site ${site}` : ''}</h1>
      {raw && !chosen && <ErrorMessage error={new Error(`Not a country code: ${raw} (two letters, e.g. DE).`)} />}
      {geo.error ? (
        <ErrorMessage error={geo.error} onRetry={geo.reload} />
      ) : !geo.data ? (
        <Loading what="host locations" />
      ) : !geo.data.geoip ? (
        <div class="message notice" role="status">
          <p>
            No GeoIP database is configured on this controller, so hosts have no country. Set <code>[api] geoip_db</code> to a
            MaxMind-format city database (<code>scripts/setup --demo</code> installs DB-IP City Lite).
          </p>
        </div>
      ) : (
        <>
          <p class="summary">
            {count(geo.data.hosts_considered)} hosts, {count(geo.data.hosts_considered - geo.data.hosts_unknown)} located in{' '}
            {geo.data.countries.length} {geo.data.countries.length === 1 ? 'country' : 'countries'}
            {geo.data.hosts_unknown > 0 && ` (${count(geo.data.hosts_unknown)} private or unknown)`}
          </p>
          {error ? <ErrorMessage error={error} /> : !world ? <Loading what="the world map" /> : null}
          {world && <WorldMap world={world} geo={geo.data} site={site} chosen={chosen} />}
          <Credit a={geo.data.attribution} />
          {chosen && <Cities key={`${chosen}/${site ?? ''}`} world={world} code={chosen} name={names.get(chosen) ?? chosen} site={site} />}
          <section aria-labelledby="h-countries">
            <h2 id="h-countries">Countries</h2>
            {geo.data.countries.length === 0 ? (
              <p class="muted">No host is in a known country yet.</p>
            ) : (
              <div class="table-wrap">
                <table id="countries">
                  <thead>
                    <tr>
                      <th scope="col">Country</th>
                      <th scope="col">Code</th>
                      <th scope="col" class="num">
                        Hosts
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {geo.data.countries.map((c) => (
                      <tr key={c.code} data-country={c.code}>
                        <th scope="row">
                          <span aria-hidden="true">{flag(c.code)} </span>
                          <a href={withQuery('/map', { site, country: c.code })} aria-current={chosen === c.code ? 'true' : undefined}>
                            {names.get(c.code.toUpperCase())}
                          </a>
                        </th>
                        <td>{c.code}</td>
                        <td class="num">{count(c.hosts)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </main>
  );
}
