// The navigation's count of open alarms.
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { usePoll } from './poll';
import './alarms.css';

/** POLL_MS: how often the open alarms are read (the badge and the open list). */
export const POLL_MS = 5000;
/** OPEN_LIMIT: the most open alarms read at once (the list's largest page). */
export const OPEN_LIMIT = 1000;

/**
 * AlarmsBadge is the number of open alarms (GET /v1/alarms?state=open, from
 * the actors: no ClickHouse needed), read every 5 s while the tab is visible.
 * Nothing is shown while there are none or the count is unknown.
 */
export function AlarmsBadge() {
  const [n, setN] = useState<{ count: number; more: boolean } | null>(null);

  usePoll(
    async () => {
      try {
        const p = await api.listAlarms({ state: 'open', limit: OPEN_LIMIT });
        setN({ count: p.items.length, more: p.next_cursor !== null });
      } catch {
        setN(null);
      }
    },
    POLL_MS,
    [],
  );

  if (!n || n.count === 0) return null;
  const text = `${n.count}${n.more ? '+' : ''}`;
  return (
    <span class="alarms-badge" data-testid="alarms-badge" data-count={n.count} title={`${text} open alarm${n.count === 1 ? '' : 's'}`}>
      {text}
    </span>
  );
}
