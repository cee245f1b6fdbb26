// "Export clip": the chosen range of the timeline made into an MP4 by a
// clip task (POST /v1/tasks), followed every second until it is over; its
// result is downloaded with the key (src/pages/tasks/util.tsx).
import { ApiError, type Task } from '../../api';
import { Link } from '../../components';
import { percent, ResultButton, TaskProgress, useTask } from '../tasks/util';
import '../tasks/tasks.css';

/** EXPORT_POLL_MS: how often the export's task is read while it is not over. */
export const EXPORT_POLL_MS = 1000;

/** ExportStatus follows the submitted clip task: state, progress, then the download or the error. */
export function ExportStatus(props: { submitted: Task }) {
  const { task, err } = useTask(props.submitted, EXPORT_POLL_MS);
  const t = task ?? props.submitted;
  const text =
    t.state === 'running' ? `running, ${percent(t.progress)}` : t.state === 'queued' ? `queued${t.attempts > 0 ? ` (attempt ${t.attempts + 1})` : ''}` : t.state;
  return (
    <div class="export-status" role="status">
      <span>
        Clip <Link to="/tasks">{t.id}</Link>:{' '}
        <strong data-testid="export-state" data-state={t.state} data-task-id={t.id}>
          {text}
        </strong>
      </span>
      {(t.state === 'queued' || t.state === 'running') && <TaskProgress task={t} testid="export-progress" />}
      <ResultButton task={t} testid="export-download" label="Download clip" />
      {t.state === 'failed' && (
        <span class="error" data-testid="export-error">
          {t.error || 'the clip failed'}
          {t.dead_letter && ' (dead letter: its attempts ran out)'}
        </span>
      )}
      {err !== null && (
        <span class="hint" data-testid="export-read-error">
          (cannot read the task: {err instanceof ApiError ? `${err.status} ${err.detail || err.title}` : String(err)}; trying again)
        </span>
      )}
    </div>
  );
}
