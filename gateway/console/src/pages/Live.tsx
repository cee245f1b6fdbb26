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
      <ErrorBox error={err} />
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
