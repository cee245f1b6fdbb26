// Form bits shared by the device page's forms: problem+json field errors are
// shown next to the field they name, as on the devices page.
import { ApiError } from '../../api';

export type Errors = Record<string, string>;

/** FieldError marks a problem for one field (data-field: the form's name for it). */
export function FieldError(props: { errors: Errors; field: string }) {
  const msg = props.errors[props.field];
  if (!msg) return null;
  return (
    <span class="field-error" data-testid="field-error" data-field={props.field}>
      {msg}
    </span>
  );
}

/**
 * problemErrors maps a failed call to field errors: the problem's field
 * through fieldOf (a form's own naming), anything else under "form".
 */
export function problemErrors(e: unknown, fieldOf: (f: string) => string): Errors {
  if (e instanceof ApiError) return { [fieldOf(e.field)]: e.detail || e.title || `HTTP ${e.status}` };
  return { form: String(e) };
}

/** Conflict is the 412 notice: the resource changed since the form was filled. */
export function Conflict(props: { what: string; onReload: () => void }) {
  return (
    <p class="conflict" role="alert" data-testid="conflict">
      Not saved: the {props.what} changed since you opened it.{' '}
      <button type="button" data-testid="conflict-reload" onClick={props.onReload}>
        Reload
      </button>
    </p>
  );
}
