// Form bits every console form shares: problem+json field errors shown next
// to the field they name, the 412 notice, and the labels text format.
import { ApiError } from './api';

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

/** labelText writes labels the way the forms take them: "k:v, k2:v2". */
export const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}:${v}`)
    .join(', ');

/** parseLabels reads "k:v, k2=v2" into labels, or says what is wrong. */
export function parseLabels(s: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const i = p.search(/[:=]/);
    if (i <= 0) return `"${p}" is not key:value`;
    out[p.slice(0, i).trim()] = p.slice(i + 1).trim();
  }
  return out;
}

/**
 * TextField is a labelled input with its field error: id is the input's
 * id (tests and labels use it), name the problem field it shows; testid
 * its data-testid, hint a line under it.
 */
export function TextField(props: {
  id: string;
  name: string;
  label: string;
  value: string;
  errors: Errors;
  onInput: (value: string) => void;
  type?: 'text' | 'password' | 'number';
  placeholder?: string;
  list?: string;
  autocomplete?: string;
  testid?: string;
  hint?: string;
}) {
  const bad = props.errors[props.name] ? true : undefined;
  return (
    <div class={bad ? 'field invalid' : 'field'}>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.name}
        // (preact's typings tie list to text-like types; number takes it too)
        type={(props.type ?? 'text') as 'text'}
        placeholder={props.placeholder}
        list={props.list}
        autocomplete={props.autocomplete ?? 'off'}
        value={props.value}
        onInput={(e) => props.onInput((e.target as HTMLInputElement).value)}
        aria-invalid={bad && 'true'}
        data-testid={props.testid}
      />
      {props.hint && <small class="hint">{props.hint}</small>}
      <FieldError errors={props.errors} field={props.name} />
    </div>
  );
}
