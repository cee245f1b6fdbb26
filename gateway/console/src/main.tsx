import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { may, session, setUnauthorizedHandler } from './api';
import { Link } from './components';
import { match, navigate, useLocation } from './router';
import { Login } from './pages/Login';
import { DEFAULT_PAGE, Devices } from './pages/Devices';
import { Device } from './pages/Device';
import { Live } from './pages/Live';
import './style.css';

setUnauthorizedHandler(() => {
  session.clear();
  const here = location.pathname.replace(/^\/console/, '') + location.search;
  navigate('/login?next=' + encodeURIComponent(here), true);
});

function pageLimit(s: string | null): number {
  const n = Number(s);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : DEFAULT_PAGE;
}

function Redirect(props: { to: string }) {
  useEffect(() => navigate(props.to, true), [props.to]);
  return null;
}

function App() {
  const loc = useLocation();
  const signedIn = session.key() !== null;

  if (loc.path === '/login') {
    return <Login next={loc.query.get('next') ?? '/devices'} />;
  }
  if (!signedIn) {
    return <Redirect to={'/login?next=' + encodeURIComponent(loc.path + (loc.query.size ? '?' + loc.query : ''))} />;
  }

  let page;
  let m: Record<string, string> | null;
  if (loc.path === '/') page = <Redirect to="/devices" />;
  else if (loc.path === '/devices') page = <Devices label={loc.query.get('label') ?? ''} limit={pageLimit(loc.query.get('limit'))} />;
  else if ((m = match('/devices/:id', loc.path)))
    page = <Device key={m.id} id={m.id} channel={Number(loc.query.get('ch') ?? '1')} />;
  else if (loc.path === '/live')
    page = <Live layout={Number(loc.query.get('layout') ?? '4')} tiles={loc.query.get('tiles') ?? ''} />;
  else
    page = (
      <main>
        <h1>Not found</h1>
        <p>
          There is no console page at {loc.path}. <Link to="/devices">Devices</Link>
        </p>
      </main>
    );

  return (
    <>
      <header class="top">
        <strong class="brand">Argus</strong>
        <nav>
          <Link to="/devices" class={loc.path.startsWith('/devices') ? 'active' : ''}>
            Devices
          </Link>
          <Link to="/live" class={loc.path === '/live' ? 'active' : ''}>
            Live
          </Link>
        </nav>
        <span class="whoami" data-testid="role">
          {session.role()}
          {!may('operator') && ' (read-only)'}
        </span>
        <button
          type="button"
          onClick={() => {
            session.clear();
            navigate('/login', true);
          }}
        >
          Sign out
        </button>
      </header>
      {page}
    </>
  );
}

render(<App />, document.getElementById('app')!);
