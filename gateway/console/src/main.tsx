import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import { may, session, setUnauthorizedHandler } from './api';
import { Link } from './components';
import { match, navigate, useLocation } from './router';
import { Login } from './pages/Login';
import { DEFAULT_PAGE, Devices, STATUSES } from './pages/Devices';
import { Device } from './pages/Device';
import { Live } from './pages/Live';
import { Events } from './pages/Events';
import { Cluster } from './pages/Cluster';
import { Keys } from './pages/Keys';
import { Alarms } from './pages/Alarms';
import { Tasks } from './pages/Tasks';
import { AlarmsBadge } from './pages/alarms/Badge';
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
  else if (loc.path === '/devices') page = (
      <Devices
        label={loc.query.get('label') ?? ''}
        status={STATUSES.includes(loc.query.get('status') ?? '') ? loc.query.get('status')! : ''}
        limit={pageLimit(loc.query.get('limit'))}
      />
    );
  else if ((m = match('/devices/:id', loc.path)))
    page = <Device key={m.id} id={m.id} channel={Number(loc.query.get('ch') ?? '1')} query={loc.query} />;
  else if (loc.path === '/live')
    page = <Live layout={Number(loc.query.get('layout') ?? '4')} tiles={loc.query.get('tiles') ?? ''} />;
  else if (loc.path === '/events') page = <Events query={loc.query} />;
  else if (loc.path === '/alarms') page = <Alarms query={loc.query} />;
  else if (loc.path === '/tasks') page = <Tasks query={loc.query} />;
  else if (loc.path === '/cluster') page = <Cluster query={loc.query} />;
  else if (loc.path === '/keys' && may('admin')) page = <Keys query={loc.query} />;
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
          <Link to="/alarms" class={loc.path === '/alarms' ? 'active' : ''} testid="nav-alarms">
            Alarms
            <AlarmsBadge />
          </Link>
          <Link to="/tasks" class={loc.path === '/tasks' ? 'active' : ''} testid="nav-tasks">
            Tasks
          </Link>
          <Link to="/events" class={loc.path === '/events' ? 'active' : ''}>
            Events
          </Link>
          <Link to="/cluster" class={loc.path === '/cluster' ? 'active' : ''}>
            Cluster
          </Link>
          {may('admin') && (
            <Link to="/keys" class={loc.path === '/keys' ? 'active' : ''}>
              Keys
            </Link>
          )}
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
