/** Which sites a user may see: every site, or only those checked (the sites the API lists). */
export function SitesField({
  name,
  legend,
  all,
  value,
  onChange,
}: {
  /** The radio group's name (unique in the page). */
  name: string;
  legend: string;
  /** Every site's name. */
  all: string[];
  /** null: every site. */
  value: string[] | null;
  onChange: (v: string[] | null) => void;
}) {
  const only = value !== null;
  const chosen = new Set(value ?? []);
  // Sites the user has that no longer exist stay listed (unchecking them removes them).
  const names = [...all, ...(value ?? []).filter((s) => !all.includes(s))];
  const toggle = (name: string, on: boolean) => {
    const next = names.filter((n) => (n === name ? on : chosen.has(n)));
    onChange(next);
  };
  return (
    <fieldset class="sites-field">
      <legend>{legend}</legend>
      <label class="inline">
        <input type="radio" name={name} value="every" checked={!only} onChange={() => onChange(null)} /> Every site
      </label>
      <label class="inline">
        <input type="radio" name={name} value="only" checked={only} onChange={() => onChange(value ?? [])} /> Only the sites checked
      </label>
      {names.length === 0 ? (
        <p class="muted">No site exists yet (sites appear when probes are enrolled).</p>
      ) : (
        <ul class="site-choices">
          {names.map((n) => (
            <li key={n}>
              <label class="inline">
                <input
                  type="checkbox"
                  value={n}
                  checked={chosen.has(n)}
                  disabled={!only}
                  onChange={(e) => toggle(n, (e.currentTarget as HTMLInputElement).checked)}
                />{' '}
                {n}
              </label>
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}
