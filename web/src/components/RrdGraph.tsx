import { useEffect, useState } from 'preact/hooks';
import { apiBlob } from '../api';
import { useApi } from '../hooks';
import { ErrorMessage, Loading } from './Message';

/** An archive directory's graph (fetched with the token, shown through an object URL), with a
 * choice of its `files`; `from`/`to` in packet time (a replayed capture is years old). */
export function RrdGraph({ dir, files: wanted, from, to, what }: { dir: string; files: string[]; from: string | null; to: string | null; what: string }) {
  const files = useApi<{ files: string[] }>(`/api/v1/rrd/files?prefix=${encodeURIComponent(`${dir}/`)}&limit=100`);
  const [file, setFile] = useState(wanted[0] ?? '');
  const [img, setImg] = useState<{ url?: string; error?: unknown }>({});
  const have = (files.data?.files ?? []).map((f) => f.slice(dir.length + 1)).filter((f) => wanted.includes(f));
  const path = have.includes(file) ? `${dir}/${file}` : have[0] ? `${dir}/${have[0]}` : null;
  useEffect(() => {
    if (!path) return;
    let live = true;
    let url: string | undefined;
    // Packet time: the span of the data with a minute around it, at most its last two days
    // (the archive keeps ~3 days at full resolution; a stray old timestamp would flatten it).
    const end = Math.ceil((to ? Date.parse(to) : Date.now()) / 1000) + 60;
    const first = from ? Math.floor(Date.parse(from) / 1000) - 60 : end - 86_400;
    const start = Math.max(1, first, end - 2 * 86_400);
    const q = `path=${encodeURIComponent(path)}&start=${start}&end=${Math.max(end, start + 300)}&width=640&height=200`;
    apiBlob(`/api/v1/rrd/graph?${q}`).then(
      (b) => {
        url = URL.createObjectURL(b);
        if (live) setImg({ url });
        else URL.revokeObjectURL(url);
      },
      (error: unknown) => live && setImg({ error }),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [path, from, to]);
  if (files.error) return <ErrorMessage error={files.error} onRetry={files.reload} />;
  if (!files.data) return <Loading what="the archive" />;
  if (!path)
    return (
      <p class="muted">
        This {what} has no RRD archive{what === 'host' ? ' (only the top hosts by traffic and configured networks have one)' : ''}.
      </p>
    );
  return (
    <div class="rrd">
      <label>
        Archive file{' '}
        <select value={path.slice(dir.length + 1)} onChange={(e) => setFile((e.currentTarget as HTMLSelectElement).value)}>
          {have.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </label>
      {img.error ? (
        <ErrorMessage error={img.error} />
      ) : img.url ? (
        <img src={img.url} alt={`RRD graph of ${path}`} width={640} height={200} class="rrd-graph" />
      ) : (
        <Loading what="the graph" />
      )}
    </div>
  );
}
