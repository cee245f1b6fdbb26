// A small client-side router on the History API. Every page is a deep link
// under /console/ (the gateway answers index.html for each).
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/console';

type Listener = () => void;
const listeners = new Set<Listener>();

function notify() {
  for (const l of listeners) l();
}

window.addEventListener('popstate', notify);

/** navigate goes to a console path ("/devices", "/devices/cam1?x=1"). */
export function navigate(to: string, replace = false) {
  const url = BASE + to;
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  window.scrollTo(0, 0);
  notify();
}

export interface Location {
  path: string; // without the /console prefix, "/" at least
  query: URLSearchParams;
}

function current(): Location {
  let p = location.pathname;
  if (p.startsWith(BASE)) p = p.slice(BASE.length);
  if (p === '' || !p.startsWith('/')) p = '/' + p;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return { path: p, query: new URLSearchParams(location.search) };
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    // A child's effect (a redirect) may have navigated before this one ran.
    l();
    return () => {
      listeners.delete(l);
    };
  }, []);
  return loc;
}

/** match returns the decoded parameters of pattern ("/devices/:id") or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const ps = pattern.split('/');
  const xs = path.split('/');
  if (ps.length !== xs.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < ps.length; i++) {
    if (ps[i].startsWith(':')) {
      try {
        out[ps[i].slice(1)] = decodeURIComponent(xs[i]);
      } catch {
        return null;
      }
    } else if (ps[i] !== xs[i]) return null;
  }
  return out;
}
