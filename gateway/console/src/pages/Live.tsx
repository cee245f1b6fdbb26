import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, LiveVideo } from '../components';
import { navigate } from '../router';

export const LAYOUTS = [1, 4, 9, 16];

/**
 * Live is a grid of live tiles. The URL holds the layout and the tiles:
 * /console/live?layout=4&tiles=cam1:1,cam2:1 (without tiles, the first
 * device channels of the list fill the grid).
 */
export function Live(props: { layout: number; tiles: string }) {
  const n = LAYOUTS.includes(props.layout) ? props.layout : 4;
  const [auto, setAuto] = useState<string[]>([]);
  const [err, setErr] = useState<unknown>(null);
  const given = props.tiles
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  useEffect(() => {
    if (given.length) return;
    let live = true;
    api
      .listDevices({ limit: 16 })
      .then((p) => {
        if (!live) return;
        const t: string[] = [];
        for (const d of p.items) for (let c = 1; c <= d.channels && t.length < 16; c++) t.push(`${d.id}:${c}`);
        setAuto(t);
      })
      .catch((e) => live && setErr(e));
    return () => {
      live = false;
    };
  }, [props.tiles]);

  const tiles = (given.length ? given : auto).slice(0, n).map((t) => {
    const i = t.lastIndexOf(':');
    const ch = i > 0 ? Number(t.slice(i + 1)) : 1;
    return { device: i > 0 ? t.slice(0, i) : t, channel: Number.isInteger(ch) && ch > 0 ? ch : 1 };
  });
  const side = Math.sqrt(n);
  const [editing, setEditing] = useState(false);
  const setTiles = (t: string[]) => navigate(`/live?layout=${n}&tiles=` + encodeURIComponent(t.join(',')), true);

  return (
    <main class="live-page">
      <h1>Live</h1>
      <nav class="tabs">
        {LAYOUTS.map((l) => (
          <button
            type="button"
            key={l}
            class={l === n ? 'active' : ''}
            onClick={() => navigate(`/live?layout=${l}` + (props.tiles ? '&tiles=' + encodeURIComponent(props.tiles) : ''), true)}
          >
            {l === 1 ? '1' : `${Math.sqrt(l)}×${Math.sqrt(l)}`}
          </button>
        ))}
      </nav>
      <button type="button" data-testid="tiles-edit" onClick={() => setEditing(!editing)}>
        {editing ? 'Done' : 'Choose streams'}
      </button>
      <ErrorBox error={err} />
      {editing && (
        <TilePicker
          count={n}
          tiles={tiles.map((t) => `${t.device}:${t.channel}`)}
          onApply={(t) => {
            setTiles(t);
            setEditing(false);
          }}
        />
      )}
      <div class={`grid grid-${side}`}>
        {tiles.map((t) => (
          <LiveVideo key={`${t.device}:${t.channel}`} device={t.device} channel={t.channel} compact={n > 1} />
        ))}
        {Array.from({ length: n - tiles.length }, (_, i) => (
          <div class="tile-empty" key={'e' + i}>
            no stream
          </div>
        ))}
      </div>
    </main>
  );
}

/**
 * TilePicker chooses the stream of every tile: "device:channel" per tile
 * (typed, since a site may have thousands of devices; the browser suggests
 * the ids of the first page). Applying writes them into the URL.
 */
function TilePicker(props: { count: number; tiles: string[]; onApply: (tiles: string[]) => void }) {
  const [v, setV] = useState<string[]>(() => Array.from({ length: props.count }, (_, i) => props.tiles[i] ?? ''));
  const [ids, setIds] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    api
      .listDevices({ limit: 200 })
      .then((p) => live && setIds(p.items.flatMap((d) => Array.from({ length: d.channels }, (_, c) => `${d.id}:${c + 1}`))))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, []);
  return (
    <form
      class="tile-picker"
      data-testid="tile-picker"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply(v.map((s) => s.trim()).filter(Boolean));
      }}
    >
      <datalist id="tile-streams">
        {ids.map((id) => (
          <option key={id} value={id} />
        ))}
      </datalist>
      {v.map((t, i) => (
        <label key={i}>
          Tile {i + 1}
          <input
            list="tile-streams"
            placeholder="device:channel"
            data-testid="tile-input"
            value={t}
            onInput={(e) => setV(v.map((x, j) => (j === i ? (e.target as HTMLInputElement).value : x)))}
          />
        </label>
      ))}
      <button type="submit" data-testid="tiles-apply">
        Show
      </button>
    </form>
  );
}
