// Polling for the alarm views: read now, then every ms after each answer
// while the tab is visible, and at once when an alarm changed here.
import { useEffect } from 'preact/hooks';

const listeners = new Set<() => void>();

/** alarmsChanged tells every poll (the badge, the alarms page) to read again now. */
export function alarmsChanged() {
  for (const l of listeners) l();
}

/**
 * usePoll calls f now, every ms after each answer (not while the tab is
 * hidden) and after each alarmsChanged; one call at a time: a change
 * signalled during a call runs f again when it is done. deps restart it.
 */
export function usePoll(f: () => Promise<void>, ms: number, deps: unknown[]) {
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let busy = false;
    let again = false;
    const tick = async () => {
      if (busy) {
        again = true;
        return;
      }
      clearTimeout(timer);
      if (!document.hidden) {
        busy = true;
        await f().catch(() => {});
        busy = false;
      }
      if (stopped) return;
      if (again) {
        again = false;
        tick();
        return;
      }
      timer = window.setTimeout(tick, ms);
    };
    tick();
    listeners.add(tick);
    return () => {
      stopped = true;
      clearTimeout(timer);
      listeners.delete(tick);
    };
  }, deps);
}
